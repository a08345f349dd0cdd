//! What the glue of the three kinds (source, transform, sink) shares: the
//! answer type of the contract, the opened plugin's state, and decoding
//! what the host sends.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use weir_ipc::{BatchDecoder, schema_from_bytes};

use crate::bindings::types;
use crate::error::{Error, Result};

/// What a contract function answers.
pub(crate) type WitResult<T> = std::result::Result<T, types::Error>;

/// Runs `call`, answering its error as the contract's.
pub(crate) fn answer<T>(call: impl FnOnce() -> Result<T>) -> WitResult<T> {
    call().map_err(Into::into)
}

/// The opened plugin's state, or an error for a call before `open`.
pub(crate) fn opened<S>(state: &mut Option<S>) -> Result<&mut S> {
    state
        .as_mut()
        .ok_or_else(|| Error::internal("called before a successful open"))
}

/// The input schema the host sends to `open`.
pub(crate) fn input_schema(bytes: &[u8]) -> Result<SchemaRef> {
    schema_from_bytes(bytes).map_err(|e| Error::internal(format!("input schema: {e}")))
}

/// A batch the host sends.
pub(crate) fn decode(decoder: &mut BatchDecoder, bytes: Vec<u8>) -> Result<RecordBatch> {
    decoder
        .decode(bytes)
        .map_err(|e| Error::internal(format!("cannot decode the input batch: {e}")))
}
