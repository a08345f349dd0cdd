//! Several pipelines in one `weir run`: every pipeline names its tenant, and
//! all plugin instances of a tenant's pipelines share one [`TenantQuota`];
//! no two pipelines may write the same dead-letter or position file.
//!
//! These are checked on the pipeline files, before any plugin is loaded, so
//! that each pipeline can then build its graph and start on its own: a
//! tenant's slow plugin never delays another's start.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use crate::connectors::Registry;
use crate::plugin::TenantQuota;
use crate::spec::{Pipeline, TenantSpec};
use crate::{Error, Fault, Kind, Stage};

/// Admits pipelines to run side by side, their connectors made from
/// `registry`. Answers, for each pipeline in
/// order, its tenant's shared quota (to give its graph with
/// [`crate::graph::Graph::set_tenant_quota`]), or why it cannot run: it
/// would write another's dead-letter or position files, its tenant is stated
/// with other quotas than in an earlier file, or the tenant's pipelines
/// together keep more plugin instances alive than its `max_instances`.
pub fn prepare(
    pipelines: &[Pipeline],
    registry: &Registry,
) -> Vec<Result<Arc<TenantQuota>, Error>> {
    let mut quotas = vec![None; pipelines.len()];
    let mut refused = shared_files(pipelines, registry);
    // Per tenant: its quotas as first stated and in which file, its shared
    // quota, its pipelines.
    type Tenant = (TenantSpec, PathBuf, Arc<TenantQuota>, Vec<usize>);
    let mut tenants: BTreeMap<String, Tenant> = BTreeMap::new();
    for (i, pipeline) in pipelines.iter().enumerate() {
        let (spec, path) = (&pipeline.tenant, &pipeline.path);
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
        quotas[i] = Some(quota.clone());
        members.push(i);
    }
    for (name, (spec, _, _, members)) in tenants {
        let needed: usize = members
            .iter()
            .map(|&i| plugin_instances(&pipelines[i]))
            .sum();
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
    let mut refused = refused.into_iter().peekable();
    quotas
        .into_iter()
        .enumerate()
        .map(|(i, quota)| match refused.next_if(|(j, _)| *j == i) {
            Some((_, why)) => Err(Error::new(Stage::Spec, Fault::Configuration, why)),
            None => Ok(quota.expect("every admitted pipeline has its tenant's quota")),
        })
        .collect()
}

/// Plugin instances `pipeline` keeps alive while it runs.
fn plugin_instances(pipeline: &Pipeline) -> usize {
    pipeline
        .nodes()
        .filter(|(_, _, spec)| spec.plugin.is_some())
        .map(|(_, _, spec)| spec.parallelism)
        .sum()
}

/// Pipelines (by index, with why) that would write a dead-letter or position
/// file an earlier pipeline of the run writes too.
fn shared_files(pipelines: &[Pipeline], registry: &Registry) -> Vec<(usize, String)> {
    let mut owners: HashMap<PathBuf, (usize, String)> = HashMap::new();
    let mut refused = Vec::new();
    for (i, pipeline) in pipelines.iter().enumerate() {
        let mut files = Vec::new();
        for (section, name, spec) in pipeline.nodes() {
            files.push((
                "dead letters",
                "dead_letters",
                pipeline.dead_letter_dir.join(format!("{name}.jsonl")),
                name,
            ));
            // A connector that cannot be made fails the graph's build; a
            // source plugin may keep a position (its snapshot).
            let resumes = match (section, spec.connector.as_deref()) {
                (Kind::Source, Some(kind)) => registry
                    .build_source(kind, &spec.config, &pipeline.base_dir)
                    .is_ok_and(|c| c.resumes()),
                (Kind::Source, None) => true,
                (Kind::Transform | Kind::Sink, _) => false,
            };
            if resumes {
                files.push((
                    "its position",
                    "state",
                    pipeline.state_dir.join(format!("{name}.json")),
                    name,
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
                            pipelines[*j].path.display()
                        ),
                    ));
                    break;
                }
                _ => {
                    owners.insert(path, (i, node.to_string()));
                }
            }
        }
    }
    refused
}
