//! Dependency cycles among `depends_on` edges, each reported with its path.

use rustc_hash::FxHashMap;

use crate::edge::DeploymentEdgeType;
use crate::graph::DeploymentGraph;
use crate::validate::ValidationError;

#[derive(Clone, Copy, PartialEq)]
enum Mark {
    Unvisited,
    OnPath,
    Done,
}

/// Appends one `DependencyCycle` per back edge found by a depth-first search, so every cycle
/// that keeps the graph from being ordered is named at least once. Self-loops are reported as
/// `SelfLoop` by the edge checks, not here.
pub(super) fn check(graph: &DeploymentGraph, problems: &mut Vec<ValidationError>) {
    // Names and successors are sorted so the cycles found depend on the graph only, not on
    // the order it was built in.
    let mut names: Vec<&str> = graph.nodes().map(|n| n.name.as_str()).collect();
    names.sort_unstable();
    let position: FxHashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let mut successors: Vec<Vec<usize>> = vec![Vec::new(); names.len()];
    for view in graph.edges() {
        if *view.edge != DeploymentEdgeType::DependsOn || view.from.name == view.to.name {
            continue;
        }
        if let (Some(&a), Some(&b)) = (
            position.get(view.from.name.as_str()),
            position.get(view.to.name.as_str()),
        ) {
            successors[a].push(b);
        }
    }
    for list in &mut successors {
        list.sort_unstable();
    }
    let mut marks = vec![Mark::Unvisited; names.len()];
    // The explicit stack holds (node, next successor to try), so deep chains cannot overflow.
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for root in 0..names.len() {
        if marks[root] != Mark::Unvisited {
            continue;
        }
        marks[root] = Mark::OnPath;
        stack.push((root, 0));
        while let Some(top) = stack.last_mut() {
            let (node, next) = *top;
            let Some(&successor) = successors[node].get(next) else {
                marks[node] = Mark::Done;
                stack.pop();
                continue;
            };
            top.1 += 1;
            match marks[successor] {
                Mark::Unvisited => {
                    marks[successor] = Mark::OnPath;
                    stack.push((successor, 0));
                }
                Mark::OnPath => {
                    let start = stack
                        .iter()
                        .rposition(|(n, _)| *n == successor)
                        .unwrap_or(0);
                    let mut cycle: Vec<String> = stack[start..]
                        .iter()
                        .map(|(n, _)| names[*n].to_owned())
                        .collect();
                    cycle.push(names[successor].to_owned());
                    problems.push(ValidationError::DependencyCycle { cycle });
                }
                Mark::Done => {}
            }
        }
    }
}
