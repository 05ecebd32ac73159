//! Positions: where a source stopped reading, saved by the sink with the data it covers.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// An opaque, serialisable marker of how far a stream has been read.
///
/// A [`Source`](crate::Source) produces positions; a [`Sink`](crate::Sink) stores
/// each one in the same transaction as the rows read before it, and hands the last
/// committed one back to the source on the next run. Only the source that made a
/// position interprets it (a timestamp, a changelog's `processed_at`, a row number...).
///
/// ```
/// use penny_transform::Position;
///
/// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
/// struct Mine { processed_at: String }
///
/// let p = Position::encode(&Mine { processed_at: "2026-11-25T10:00:00Z".into() })?;
/// let text = serde_json::to_string(&p)?;
/// let back: Position = serde_json::from_str(&text)?;
/// assert_eq!(back.decode::<Mine>()?.processed_at, "2026-11-25T10:00:00Z");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Position(serde_json::Value);

impl Position {
    /// Wraps any serialisable value.
    pub fn encode<T: Serialize>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::to_value(value).map(Position)
    }

    /// Reads the position back as the type that made it.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.0)
    }

    /// The position as JSON, for storage.
    pub fn as_json(&self) -> &serde_json::Value {
        &self.0
    }

    /// A position read back from storage.
    pub fn from_json(value: serde_json::Value) -> Self {
        Position(value)
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}
