//! Explore Pennylane Data Sharing and stream one table, with `penny-redshift` alone.
//!
//! ```sh
//! # PENNYLANE_DATA_SHARING_HOST, _PORT (5439), _DATABASE, _USER and _KEY set (see .env.example)
//! cargo run -p penny-examples --example redshift_stream -- general_ledger
//! ```
//!
//! It lists the tables of the `pennylane` schema through `information_schema`, then
//! reads the chosen one through a server-side cursor, batch by batch, in flat memory.

use futures_util::StreamExt;
use penny_redshift::{DataSharingConfig, DataSharingSource, SourceOptions, connect};
use penny_transform::{Source, SourceEvent};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let table = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "general_ledger".to_owned());
    let config = DataSharingConfig::from_env()?;

    // Step 1: what is there?
    let connection = connect(&config).await?;
    for info in connection.tables("pennylane").await? {
        println!("{}.{} ({:?})", info.schema, info.name, info.kind);
    }

    // Step 2: stream one table as Penny batches.
    let source = DataSharingSource::new(config, SourceOptions::for_schema("pennylane"));
    let read = source.read(&table, None).await?;
    let mut events = read.events;
    let mut rows = 0;
    while let Some(event) = events.next().await {
        match event? {
            SourceEvent::Batch(batch) => {
                rows += batch.len();
                eprint!("\r{rows} rows");
            }
            SourceEvent::Checkpoint(position) => eprintln!("\ncheckpoint {position}"),
            SourceEvent::Resume(position) => eprintln!("\nresume point {position}"),
        }
    }
    println!("{table}: {rows} rows streamed");
    Ok(())
}
