//! Several pipelines in one `weir run`: every pipeline names its tenant, and
//! all plugin instances of a tenant's pipelines share one [`TenantQuota`];
//! no two pipelines may write the same dead-letter or position file.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use crate::graph::{Graph, Implementation};
use crate::plugin::TenantQuota;
use crate::spec::TenantSpec;

/// Prepares graphs to run side by side: gives each its tenant's shared
/// quota. Answers, by graph index (each at most once, in order), the
/// pipelines that cannot run: one that would write another's dead-letter or
/// position files, a tenant stated with other quotas than in an earlier
/// file, or whose pipelines together keep more plugin instances alive than
/// its `max_instances`.
pub fn prepare(graphs: &mut [Graph]) -> Vec<(usize, String)> {
    let mut refused = shared_files(graphs);
    // Per tenant: its quotas as first stated and in which file, its shared
    // quota, its pipelines.
    type Tenant = (TenantSpec, PathBuf, Arc<TenantQuota>, Vec<usize>);
    let mut tenants: BTreeMap<String, Tenant> = BTreeMap::new();
    for (i, graph) in graphs.iter_mut().enumerate() {
        let (spec, path) = (&graph.pipeline.tenant, &graph.pipeline.path);
        let (first, first_path, quota, members) =
            tenants.entry(spec.name.clone()).or_insert_with(|| {
                let quota = TenantQuota::new(
                    &spec.name,
                    spec.max_memory_mib.map(|mib| mib << 20),
                    spec.max_instances,
                );
                (spec.clone(), path.clone(), Arc::new(quota), Vec::new())
            });
        if first != spec {
            refused.push((
                i,
                format!(
                    "tenant {:?} is given other quotas here than in {} ({first:?} there, {spec:?} here); state them alike",
                    spec.name,
                    first_path.display()
                ),
            ));
            continue;
        }
        graph.set_tenant_quota(quota);
        members.push(i);
    }
    for (name, (spec, _, _, members)) in tenants {
        let needed: usize = members.iter().map(|&i| graphs[i].plugin_instances()).sum();
        if let Some(max) = spec.max_instances.filter(|&max| needed > max) {
            for i in members {
                refused.push((
                    i,
                    format!(
                        "tenant {name:?}'s pipelines keep {needed} plugin instances alive, more than its quota (tenant.max_instances: {max})"
                    ),
                ));
            }
        }
    }
    refused.sort();
    refused.dedup_by(|later, first| {
        let same = later.0 == first.0;
        if same {
            first.1 = format!("{}; {}", first.1, later.1);
        }
        same
    });
    refused
}

/// Pipelines (by index, with why) that would write a dead-letter or position
/// file an earlier pipeline of the run writes too.
fn shared_files(graphs: &[Graph]) -> Vec<(usize, String)> {
    let mut owners: HashMap<PathBuf, (usize, String)> = HashMap::new();
    let mut refused = Vec::new();
    for (i, graph) in graphs.iter().enumerate() {
        let pipeline = &graph.pipeline;
        let mut files = Vec::new();
        for node in &graph.nodes {
            files.push((
                "dead letters",
                "dead_letters",
                pipeline
                    .dead_letter_dir
                    .join(format!("{}.jsonl", node.name)),
                &node.name,
            ));
            if matches!(&node.implementation, Implementation::Connector(c) if c.resumes()) {
                files.push((
                    "its position",
                    "state",
                    pipeline.state_dir.join(format!("{}.json", node.name)),
                    &node.name,
                ));
            }
        }
        for (what, field, path, node) in files {
            match owners.get(&path) {
                Some((j, other)) if *j != i => {
                    refused.push((
                        i,
                        format!(
                            "node {node:?} would write {what} to {}, as node {other:?} of {} does; give one of the pipelines its own `{field}:` folder",
                            path.display(),
                            graphs[*j].pipeline.path.display()
                        ),
                    ));
                    break;
                }
                _ => {
                    owners.insert(path, (i, node.clone()));
                }
            }
        }
    }
    refused
}
