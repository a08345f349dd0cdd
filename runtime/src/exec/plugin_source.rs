//! A Wasm source plugin behind the native [`Source`] interface, so that one
//! loop reads both and both resume the same way. Its position is its
//! `snapshot`, taken after every batch and stored in the position file
//! (`<state>/<node>.json`, as `{"snapshot": "<base64>"}`) once every sink
//! has made that batch durable; the next run `restore`s it right after
//! `open`. A plugin whose `snapshot` answers `none` is stateless: it has no
//! position and starts anew every run.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::connectors::{BadRecord, ConnectorError, Source};
use crate::plugin::{Poll, SourceInstance};

/// A source plugin instance read through [`Source`].
pub(crate) struct PluginSource {
    instance: SourceInstance,
    /// Rows asked for per `next` call.
    rows: u32,
    /// The snapshot after the batch given last, as a position.
    position: Option<serde_json::Value>,
}

impl PluginSource {
    /// Reads `instance` (opened), restoring `start` when a previous run
    /// committed it.
    pub(crate) fn new(
        mut instance: SourceInstance,
        rows: u32,
        start: Option<serde_json::Value>,
    ) -> Result<Self, ConnectorError> {
        if let Some(start) = start {
            instance.restore(&decode(&start)?)?;
        }
        let position = instance.snapshot()?.map(|state| encode(&state));
        Ok(Self {
            instance,
            rows,
            position,
        })
    }
}

impl Source for PluginSource {
    fn next_batch(&mut self, _bad: &mut dyn FnMut(BadRecord)) -> Result<Poll, ConnectorError> {
        let poll = self.instance.next(self.rows)?;
        if self.position.is_some() && matches!(poll, Poll::Batch(_)) {
            self.position = self.instance.snapshot()?.map(|state| encode(&state));
        }
        Ok(poll)
    }

    fn position(&self) -> Option<serde_json::Value> {
        self.position.clone()
    }

    fn forgets_at_end(&self) -> bool {
        true
    }
}

fn encode(state: &[u8]) -> serde_json::Value {
    serde_json::json!({ "snapshot": STANDARD.encode(state) })
}

fn decode(position: &serde_json::Value) -> Result<Vec<u8>, ConnectorError> {
    let unreadable = |why: &str| ConnectorError::Config {
        field: "state".into(),
        message: format!(
            "the recorded position is unreadable ({why}); delete the file to start anew"
        ),
    };
    let text = position["snapshot"]
        .as_str()
        .ok_or_else(|| unreadable("no `snapshot` string"))?;
    STANDARD
        .decode(text)
        .map_err(|e| unreadable(&e.to_string()))
}
