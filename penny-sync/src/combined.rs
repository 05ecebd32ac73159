//! Sources composed from others.

use penny_transform::{Position, Source, SourceError, StreamInfo, StreamRead};

/// Two sources as one (`source.kind = "both"`): every stream of the first, and the
/// streams of the second whose names the first does not offer.
pub struct Combined {
    first: Box<dyn Source>,
    second: Box<dyn Source>,
    name: String,
}

impl Combined {
    /// `first` wins on shared stream names.
    pub fn new(first: Box<dyn Source>, second: Box<dyn Source>) -> Self {
        let name = format!("{}+{}", first.name(), second.name());
        Combined {
            first,
            second,
            name,
        }
    }
}

#[async_trait::async_trait]
impl Source for Combined {
    fn name(&self) -> &str {
        &self.name
    }

    async fn streams(&self) -> Result<Vec<StreamInfo>, SourceError> {
        let mut streams = self.first.streams().await?;
        for s in self.second.streams().await? {
            if !streams.iter().any(|f| f.name() == s.name()) {
                streams.push(s);
            }
        }
        Ok(streams)
    }

    async fn read(
        &self,
        stream: &str,
        from: Option<Position>,
    ) -> Result<StreamRead<'_>, SourceError> {
        let first = self.first.streams().await?;
        if first.iter().any(|s| s.name() == stream) {
            self.first.read(stream, from).await
        } else {
            self.second.read(stream, from).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use penny_transform::testing::MemorySource;
    use penny_transform::{Column, LogicalType, Schema, SyncMode, Value};

    #[tokio::test]
    async fn the_first_source_wins_shared_names() {
        let a = MemorySource::example();
        let b = MemorySource::example();
        let schema = Schema::new(
            "general_ledger",
            vec![Column::required("id", LogicalType::Int64)],
            ["id"],
        )
        .unwrap();
        b.add_table(StreamInfo::new(schema, SyncMode::FullOnly));
        b.upsert("general_ledger", vec![Value::Int64(7)]).unwrap();
        b.delete("journals", vec![Value::Int64(1)]).unwrap();
        let both = Combined::new(Box::new(a), Box::new(b));
        let names: Vec<String> = both
            .streams()
            .await
            .unwrap()
            .iter()
            .map(|s| s.name().to_owned())
            .collect();
        assert_eq!(names, vec!["journals", "general_ledger"]);
        let mut sink = penny_transform::testing::MemorySink::default();
        penny_transform::driver::sync_stream(&both, &mut sink, "journals", Default::default())
            .await
            .unwrap();
        // The first source still has journal 1.
        assert!(
            sink.rows("journals")
                .iter()
                .any(|r| r[0] == Value::Int64(1))
        );
        penny_transform::driver::sync_stream(
            &both,
            &mut sink,
            "general_ledger",
            Default::default(),
        )
        .await
        .unwrap();
        assert_eq!(sink.rows("general_ledger").len(), 1);
    }
}
