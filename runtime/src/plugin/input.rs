//! The input side of a transform or sink instance: the columns the plugin
//! declared it reads (validated once at open) and the encoder of those
//! columns, shared by both worlds.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use weir_ipc::{BatchEncoder, FramedBatch};

use super::error::PluginError;
use super::instance::Instance;

/// Encodes the columns a plugin reads from each input batch.
pub(crate) struct InputEncoder {
    reads: Option<Vec<usize>>,
    encoder: BatchEncoder,
}

impl InputEncoder {
    /// The input columns the plugin reads; `None`: all.
    pub(crate) fn reads(&self) -> Option<&[usize]> {
        self.reads.as_deref()
    }

    /// Checks the `reads` a plugin answered at open against `input` (ascending
    /// indices in range) and prepares the encoder of those columns.
    pub(crate) fn new<B>(
        instance: &Instance<B>,
        input: &SchemaRef,
        reads: Option<Vec<u32>>,
    ) -> Result<Self, PluginError> {
        let reads: Option<Vec<usize>> = reads.map(|r| r.into_iter().map(|i| i as usize).collect());
        let columns = input.fields().len();
        if let Some(reads) = &reads
            && (!reads.windows(2).all(|w| w[0] < w[1]) || reads.iter().any(|&i| i >= columns))
        {
            return Err(instance.protocol(
                "open",
                format!("reads {reads:?} must be ascending indices below {columns}"),
            ));
        }
        let encode_error = |source| PluginError::Encode {
            plugin: instance.node.clone(),
            call: "open",
            source,
        };
        let read_schema = match &reads {
            Some(indices) => Arc::new(input.project(indices).map_err(encode_error)?),
            None => input.clone(),
        };
        let encoder = BatchEncoder::new(&read_schema).map_err(encode_error)?;
        Ok(Self { reads, encoder })
    }

    /// Frames the read columns of `batch` for [`super::lower::call_with_batch`],
    /// which copies each buffer once, into the plugin. The head stays in the
    /// encoder's buffer until the next call.
    pub(crate) fn frame(
        &mut self,
        batch: &RecordBatch,
        node: &str,
        call: &'static str,
    ) -> Result<FramedBatch<'_>, PluginError> {
        self.encoder
            .frame(batch, self.reads.as_deref())
            .map_err(|source| PluginError::Encode {
                plugin: node.to_string(),
                call,
                source,
            })
    }
}
