//! Several pipelines side by side, as `weir run` runs them: each builds its
//! graph on a thread of its own and starts as soon as it is built (a slow
//! plugin of one tenant never delays another's start), tenants share their
//! quotas, and optionally plugin files are watched for hot reload and the
//! admin API shows every pipeline. [`keep_freed_memory`] is the allocator
//! policy `weir run` sets for its process.
//!
//! ```no_run
//! # fn main() -> weir::Result<()> {
//! use weir::plugin::{EngineOptions, PluginEngine};
//! let engine = PluginEngine::new(&EngineOptions::default()).expect("an engine");
//! let pipeline = weir::spec::Pipeline::from_file("pipeline.yaml".as_ref())?;
//! for (path, outcome) in weir::Runtime::new(engine).run(vec![pipeline])? {
//!     println!("{}: {}", path.display(), outcome.succeeded());
//! }
//! # Ok(())
//! # }
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
#[cfg(feature = "admin")]
use std::time::Duration;

use crate::connectors::Registry;
use crate::exec::{BudgetBreach, Progress, RunError, RunOptions, Summary};
use crate::graph::{Graph, GraphError};
use crate::plugin::{PluginEngine, TenantQuota};
use crate::spec::Pipeline;
use crate::{Error, Result};

/// Tells glibc's allocator to keep freed memory for the next batch instead
/// of returning it to the kernel. By default a block over 128 KiB is a
/// fresh `mmap` and the heap is trimmed above 128 KiB free, so the buffers
/// each batch and Parquet page allocate and free come back as new pages,
/// each a page fault: 20,000 to 30,000 in a 2 M-row Parquet run, with a
/// fifth of its CPU time in the kernel. With blocks up to 32 MiB on the heap
/// and up to 16 MiB of it kept free, Nexmark q1 (Parquet to Parquet) faults
/// 2.5 to 5 times less and ends 8 to 16 % sooner.
///
/// Process-wide, so the program decides: the `weir` command calls it at
/// start; a program embedding Weir beside other work may keep its own
/// allocator policy. Does nothing where the C library is not glibc.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt sets two of the allocator's thresholds under its
    // lock; any thread may call it at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 16 << 20);
    }
}

/// Makes the progress report of one pipeline (its name, and whether several
/// run).
type ProgressFor = Arc<dyn Fn(&Pipeline, bool) -> Arc<dyn Progress> + Send + Sync>;

/// Runs pipelines: a builder of what they share (engine, connectors,
/// progress, watch, admin) and [`Runtime::run`].
pub struct Runtime {
    engine: PluginEngine,
    registry: Registry,
    stop: Arc<AtomicBool>,
    progress: Option<ProgressFor>,
    #[cfg(feature = "watch")]
    watch: bool,
    #[cfg(feature = "admin")]
    admin: Option<(crate::admin::Pipelines, Duration)>,
}

/// What became of one pipeline of a run.
pub enum Outcome {
    /// Its graph could not be built.
    NotBuilt(GraphError),
    /// It was refused beside the others (files it would share with
    /// another, its tenant's quotas).
    Refused(Error),
    /// It ran.
    Ran(Ran),
}

/// A pipeline that ran.
pub struct Ran {
    /// The pipeline's name.
    pub name: String,
    /// Its tenant.
    pub tenant: String,
    /// How the run ended; a failed run keeps its summary in the error.
    pub result: std::result::Result<Summary, RunError>,
    /// Dead-letter budgets it went past.
    pub breaches: Vec<BudgetBreach>,
}

impl Outcome {
    /// Whether the pipeline ran to its end without error or breached budget.
    pub fn succeeded(&self) -> bool {
        matches!(self, Outcome::Ran(ran) if ran.result.is_ok() && ran.breaches.is_empty())
    }
}

impl Runtime {
    /// A runtime loading plugins into `engine`, with Weir's own connectors.
    pub fn new(engine: PluginEngine) -> Self {
        Self {
            engine,
            registry: Registry::builtin(),
            stop: Arc::default(),
            progress: None,
            #[cfg(feature = "watch")]
            watch: false,
            #[cfg(feature = "admin")]
            admin: None,
        }
    }

    /// Makes connectors from `registry` (for connectors of your own).
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = registry;
        self
    }

    /// Reports each pipeline's progress to what `progress_for` makes for it
    /// (given the pipeline and whether several run).
    pub fn progress(
        mut self,
        progress_for: impl Fn(&Pipeline, bool) -> Arc<dyn Progress> + Send + Sync + 'static,
    ) -> Self {
        self.progress = Some(Arc::new(progress_for));
        self
    }

    /// Watches every plugin file (and pipeline file) and hot-reloads what
    /// changes.
    #[cfg(feature = "watch")]
    pub fn watch(mut self, watch: bool) -> Self {
        self.watch = watch;
        self
    }

    /// Serves the admin API and Prometheus metrics at `addr` from now on;
    /// after the run, waits up to `linger` for one more scrape of
    /// `/metrics`. Answers the address it listens on.
    #[cfg(feature = "admin")]
    pub fn serve_admin(
        &mut self,
        addr: std::net::SocketAddr,
        linger: Duration,
    ) -> Result<std::net::SocketAddr> {
        use crate::{Fault, Stage};
        let cannot = |message: String, e: std::io::Error| {
            Error::caused(Stage::Open, Fault::External, message, e)
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| cannot("cannot start the admin API's runtime".into(), e))?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(addr))
            .map_err(|e| cannot(format!("cannot bind the admin API to {addr}"), e))?;
        let bound = listener
            .local_addr()
            .map_err(|e| cannot(format!("cannot bind the admin API to {addr}"), e))?;
        let pipelines = crate::admin::Pipelines::default();
        let (shown, engine) = (pipelines.clone(), self.engine.clone());
        std::thread::Builder::new()
            .name("weir-admin".into())
            .spawn(move || {
                if let Err(error) = runtime.block_on(crate::admin::serve(listener, shown, engine)) {
                    tracing::error!(%error, "the admin API stopped");
                }
            })
            .map_err(|e| cannot("cannot start the admin API's thread".into(), e))?;
        self.admin = Some((pipelines, linger));
        Ok(bound)
    }

    /// Set it to end every pipeline early: sources stop, what is in flight
    /// drains, sinks close (Ctrl-C in `weir run`).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Runs `pipelines` side by side to their ends (or the stop); answers
    /// each one's outcome, in their order. `Err` when they cannot run
    /// together at all (two share a `name:`).
    pub fn run(&self, mut pipelines: Vec<Pipeline>) -> Result<Vec<(PathBuf, Outcome)>> {
        crate::spec::make_names_unique(&mut pipelines)?;
        let several = pipelines.len() > 1;
        let admitted = crate::exec::prepare(&pipelines, &self.registry);
        let outcomes: Vec<(PathBuf, Outcome)> = std::thread::scope(|scope| {
            let runs: Vec<_> = pipelines
                .into_iter()
                .zip(admitted)
                .map(|(pipeline, quota)| {
                    let path = pipeline.path.clone();
                    let run = quota
                        .map(|quota| scope.spawn(move || self.run_one(pipeline, &quota, several)));
                    (path, run)
                })
                .collect();
            runs.into_iter()
                .map(|(path, run)| {
                    let outcome = match run {
                        Ok(run) => run.join().expect("a pipeline thread panicked"),
                        Err(refused) => Outcome::Refused(refused),
                    };
                    (path, outcome)
                })
                .collect()
        });
        #[cfg(feature = "admin")]
        if let Some((shown, linger)) = &self.admin
            && outcomes.iter().any(|(_, o)| matches!(o, Outcome::Ran(_)))
            && !self.stop.load(Ordering::SeqCst)
        {
            linger_for_a_scrape(shown, *linger);
        }
        Ok(outcomes)
    }

    /// Builds `pipeline`'s graph under its tenant's `quota` and runs it
    /// (with its plugin watcher when asked), shown by the admin API once
    /// built.
    fn run_one(&self, pipeline: Pipeline, quota: &Arc<TenantQuota>, several: bool) -> Outcome {
        let mut graph = match Graph::build_with(pipeline, &self.engine, &self.registry) {
            Ok(graph) => graph,
            Err(error) => return Outcome::NotBuilt(error),
        };
        graph.set_tenant_quota(quota);
        let (reloader, inboxes) = crate::exec::reload_channels(&graph);
        let stats = crate::exec::node_stats(&graph);
        #[cfg(feature = "admin")]
        if let Some((shown, _)) = &self.admin {
            shown.add(crate::admin::PipelineView::new(
                &graph,
                stats.clone(),
                reloader.clone(),
            ));
        }
        let options = RunOptions {
            progress: self
                .progress
                .as_ref()
                .map(|progress_for| progress_for(&graph.pipeline, several)),
            ..RunOptions::default()
        };
        let done = AtomicBool::new(false);
        let result = std::thread::scope(|scope| {
            #[cfg(feature = "watch")]
            if self.watch {
                let (graph, reloader, done) = (&graph, &reloader, &done);
                scope.spawn(move || {
                    if let Err(error) =
                        crate::watch::watch_plugins(graph, &self.engine, reloader, done)
                    {
                        tracing::error!(%error, "cannot watch the plugin files; no reloads");
                    }
                });
            }
            #[cfg(not(feature = "watch"))]
            let _ = (scope, &reloader); // only the watcher needs them
            let result = crate::exec::run_reloadable(
                &graph,
                &self.engine,
                &options,
                &self.stop,
                inboxes,
                &stats,
            );
            done.store(true, Ordering::SeqCst);
            result
        });
        let breaches = match &result {
            Ok(summary) => crate::exec::breaches(&graph, summary),
            Err(_) => Vec::new(),
        };
        Outcome::Ran(Ran {
            name: graph.pipeline.name.clone(),
            tenant: graph.pipeline.tenant.name.clone(),
            result,
            breaches,
        })
    }
}

/// Waits until `/metrics` has been scraped once more than now, or `linger`
/// has passed; then half a second for the answer to leave.
#[cfg(feature = "admin")]
fn linger_for_a_scrape(shown: &crate::admin::Pipelines, linger: Duration) {
    if linger.is_zero() {
        return;
    }
    let seen = shown.scrapes();
    let until = std::time::Instant::now() + linger;
    while shown.scrapes() == seen && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    if shown.scrapes() > seen {
        std::thread::sleep(Duration::from_millis(500));
    }
}
