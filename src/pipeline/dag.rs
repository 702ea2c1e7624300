//! The stage graph: edges from outputs to inputs, the checks on it (duplicate or nested outputs,
//! a stage reading its own output, cycles), a run order, and text / Mermaid drawings.

use super::paths::overlap;
use super::stage::ResolvedStage;
use anyhow::{bail, Result};
use std::collections::BTreeSet;
use std::fmt::Write;

/// Which stage feeds which.
#[derive(Debug, Clone)]
pub struct Graph {
    /// For each stage, the stages whose outputs it reads (sorted, unique).
    pub upstream: Vec<Vec<usize>>,
    /// For each stage and each of its `deps`: whether some stage produces it.
    pub produced: Vec<Vec<bool>>,
    /// Every stage after the stages it reads from; ties in file order.
    pub order: Vec<usize>,
}

impl Graph {
    /// Builds and checks the graph of `stages`.
    pub fn build(stages: &[ResolvedStage]) -> Result<Graph> {
        let outs: Vec<(usize, &str)> = stages
            .iter()
            .enumerate()
            .flat_map(|(i, s)| s.outs.iter().map(move |o| (i, o.as_str())))
            .collect();
        for (a, &(sa, pa)) in outs.iter().enumerate() {
            for &(sb, pb) in &outs[a + 1..] {
                if !overlap(pa, pb) {
                    continue;
                }
                let (first, second) = (&stages[sa], &stages[sb]);
                let relation = if pa == pb {
                    "is also".to_string()
                } else if pb.len() > pa.len() {
                    format!("lies inside `{pa}`,")
                } else {
                    format!("contains `{pa}`,")
                };
                let whose = if sa == sb {
                    "of the same stage".to_string()
                } else {
                    format!("of stage `{}`", first.name)
                };
                bail!(
                    "{}: stage `{}`: output `{pb}` {relation} an output {whose} (each path must have one producer)",
                    second.origin,
                    second.name
                );
            }
        }

        let mut upstream = vec![Vec::new(); stages.len()];
        let mut produced = Vec::with_capacity(stages.len());
        for (i, s) in stages.iter().enumerate() {
            let mut flags = Vec::with_capacity(s.deps.len());
            for dep in &s.deps {
                let producers: BTreeSet<usize> = outs
                    .iter()
                    .filter(|(_, o)| overlap(dep, o))
                    .map(|&(j, _)| j)
                    .collect();
                if producers.contains(&i) {
                    bail!(
                        "{}: stage `{}`: input `{dep}` overlaps the stage's own output",
                        s.origin,
                        s.name
                    );
                }
                flags.push(!producers.is_empty());
                upstream[i].extend(producers);
            }
            upstream[i].sort_unstable();
            upstream[i].dedup();
            produced.push(flags);
        }

        let order = topological_order(&upstream).or_else(|cycle| {
            let names: Vec<&str> = cycle.iter().map(|&i| stages[i].name.as_str()).collect();
            let first = &stages[cycle[0]];
            bail!(
                "{}: stage `{}`: cycle between stages: {} (each reads an output of the one before)",
                first.origin,
                first.name,
                names.join(" -> ")
            )
        })?;
        Ok(Graph {
            upstream,
            produced,
            order,
        })
    }

    /// `targets` and every stage they read from, directly or not.
    pub fn with_upstream(&self, targets: &[usize]) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<usize> = targets.to_vec();
        while let Some(i) = todo.pop() {
            if seen.insert(i) {
                todo.extend(&self.upstream[i]);
            }
        }
        seen
    }

    /// One line per stage in run order: `name [kind] <- upstream, ...`, then its outputs.
    pub fn text(&self, stages: &[ResolvedStage]) -> String {
        let mut s = String::new();
        for &i in &self.order {
            let st = &stages[i];
            let _ = write!(s, "{} [{}]", st.name, st.kind);
            if !self.upstream[i].is_empty() {
                let up: Vec<&str> = self.upstream[i]
                    .iter()
                    .map(|&j| stages[j].name.as_str())
                    .collect();
                let _ = write!(s, " <- {}", up.join(", "));
            }
            if let Some(d) = &st.desc {
                let _ = write!(s, "  # {d}");
            }
            s.push('\n');
            for o in &st.outs {
                let _ = writeln!(s, "    -> {o}");
            }
        }
        s
    }

    /// A Mermaid `flowchart` of the stages (paste into Markdown inside a ```mermaid block).
    pub fn mermaid(&self, stages: &[ResolvedStage]) -> String {
        let mut s = String::from("flowchart TD\n");
        for &i in &self.order {
            let _ = writeln!(
                s,
                "    s{i}[\"{}<br/><i>{}</i>\"]",
                stages[i].name, stages[i].kind
            );
        }
        for &i in &self.order {
            for &j in &self.upstream[i] {
                let _ = writeln!(s, "    s{j} --> s{i}");
            }
        }
        s
    }
}

/// Kahn's algorithm, lowest index first among ready stages; on a cycle, the stages along it in
/// data-flow order.
fn topological_order(upstream: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    let n = upstream.len();
    let mut downstream = vec![Vec::new(); n];
    let mut pending: Vec<usize> = upstream.iter().map(Vec::len).collect();
    for (i, ups) in upstream.iter().enumerate() {
        for &u in ups {
            downstream[u].push(i);
        }
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| pending[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &d in &downstream[i] {
            pending[d] -= 1;
            if pending[d] == 0 {
                ready.insert(d);
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // Every stage left waits on another stage left: walk upstream until one repeats.
    let start = (0..n).find(|&i| pending[i] > 0).expect("a stage is left");
    let mut path = vec![start];
    loop {
        let last = *path.last().expect("non-empty");
        let next = *upstream[last]
            .iter()
            .find(|&&u| pending[u] > 0)
            .expect("a waiting stage has a waiting upstream");
        if let Some(pos) = path.iter().position(|&p| p == next) {
            let mut cycle = path[pos..].to_vec();
            cycle.reverse();
            cycle.push(cycle[0]);
            return Err(cycle);
        }
        path.push(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(name: &str, deps: &[&str], outs: &[&str]) -> ResolvedStage {
        ResolvedStage {
            name: name.into(),
            group: name.into(),
            kind: "k".into(),
            params: Default::default(),
            deps: deps.iter().map(|s| s.to_string()).collect(),
            outs: outs.iter().map(|s| s.to_string()).collect(),
            desc: None,
            ranks: 1,
            origin: format!("p.toml:{}", name.len()),
        }
    }

    #[test]
    fn order_follows_outputs_to_inputs_and_keeps_file_order_for_ties() {
        let stages = [
            stage("report", &["b", "a"], &["r"]),
            stage("first", &["data.txt"], &["a"]),
            stage("second", &["a/x"], &["b"]),
        ];
        let g = Graph::build(&stages).unwrap();
        assert_eq!(g.order, vec![1, 2, 0]);
        assert_eq!(g.upstream[0], vec![1, 2]);
        assert_eq!(g.produced[1], vec![false]);
        assert_eq!(g.with_upstream(&[2]), BTreeSet::from([1, 2]));
        assert!(g.mermaid(&stages).contains("s1 --> s2"));
        assert!(g.text(&stages).contains("second [k] <- first"));
    }

    #[test]
    fn a_cycle_is_reported_with_its_stages_in_data_flow_order() {
        let stages = [
            stage("a", &["y"], &["x"]),
            stage("b", &["x"], &["y"]),
            stage("c", &["y"], &["z"]),
        ];
        let e = Graph::build(&stages).unwrap_err().to_string();
        assert!(
            e.contains("cycle between stages: a -> b -> a") || e.contains("b -> a -> b"),
            "{e}"
        );
    }

    #[test]
    fn nested_outputs_and_self_reads_are_errors() {
        let e = Graph::build(&[stage("a", &[], &["runs"]), stage("b", &[], &["runs/b"])])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("stage `b`") && e.contains("lies inside `runs`") && e.contains("stage `a`"),
            "{e}"
        );
        let e = Graph::build(&[stage("a", &["runs/a/x"], &["runs/a"])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("own output"), "{e}");
    }
}
