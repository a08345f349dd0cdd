//! What the glue of the three kinds (source, transform, sink) shares: the
//! answer type of the contract, the opened plugin's state, and decoding
//! what the host sends.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use weir_ipc::{BatchDecoder, schema_from_bytes};

use crate::Reads;
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
fn input_schema(bytes: &[u8]) -> Result<SchemaRef> {
    schema_from_bytes(bytes).map_err(|e| Error::internal(format!("input schema: {e}")))
}

/// A transform or sink opened: the plugin, its plan, the decoder of the
/// batches it receives and the reads to answer the host.
pub(crate) struct Opened<P, Plan> {
    pub plugin: P,
    pub plan: Plan,
    pub decoder: BatchDecoder,
    pub reads: Option<Vec<u32>>,
}

/// Parses `config`, reads the input `schema` and opens the plugin with
/// `open`; `reads` says which columns its plan reads.
pub(crate) fn open_reading<C: serde::de::DeserializeOwned, P, Plan>(
    config: &str,
    schema: &[u8],
    open: impl FnOnce(C, &SchemaRef) -> Result<(P, Plan)>,
    reads: impl Fn(&Plan) -> &Reads,
) -> Result<Opened<P, Plan>> {
    let config = crate::config::parse::<C>(config)?;
    let input = input_schema(schema)?;
    let (plugin, plan) = open(config, &input).map_err(crate::error::at_open)?;
    let received = reads(&plan).received_schema(&input)?;
    let decoder = crate::trusted_decoder(&received)?;
    let reads = reads(&plan)
        .indices()
        .map(|r| r.iter().map(|&i| i as u32).collect());
    Ok(Opened {
        plugin,
        plan,
        decoder,
        reads,
    })
}

/// A batch the host sends.
pub(crate) fn decode(decoder: &mut BatchDecoder, bytes: Vec<u8>) -> Result<RecordBatch> {
    decoder
        .decode(bytes)
        .map_err(|e| Error::internal(format!("cannot decode the input batch: {e}")))
}
