//! Test fixture: a transform that imports `wasi:sockets` (it connects to
//! the address in its config at `open`), which Weir refuses to load in a
//! pipeline, naming the import. Otherwise it passes batches through.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use serde::Deserialize;
use weir_sdk::{Error, Output, Plan, Result, Transform};

/// Where to connect.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `host:port` to connect to at open.
    pub connect: Option<String>,
}

/// Passes batches through.
pub struct Network;

impl Transform for Network {
    type Config = Config;

    fn open(config: Config, input: &SchemaRef) -> Result<(Self, Plan)> {
        if let Some(address) = &config.connect {
            std::net::TcpStream::connect(address)
                .map_err(|e| Error::unavailable(format!("connect {address}: {e}")))?;
        }
        Ok((Network, Plan::batches(input.clone())))
    }

    fn process(&mut self, batch: RecordBatch) -> Result<Output> {
        Ok(Output::batch(batch))
    }
}

weir_sdk::export_transform!(Network);
