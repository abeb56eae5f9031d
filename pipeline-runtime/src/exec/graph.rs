//! The pipeline's graph as data: what `describe` prints and the run summary
//! reports on.
//!
//! The builder records a node for every source, stage, exchange and sink as
//! the pipeline is built, so the description is exactly what runs.

use std::fmt::Write as _;

/// What a graph node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// Reads records from outside.
    Source,
    /// Transforms records.
    Stage,
    /// Writes records outside.
    Sink,
}

/// One node of the graph.
#[derive(Debug, Clone)]
pub struct Node {
    /// Its stable id: the pipeline name, then the node's name or its
    /// position (`WordCount/3-key_by`).
    pub id: String,
    /// Short label such as `map` or `source lines (socket)`.
    pub label: String,
    /// What it is.
    pub kind: NodeKind,
    /// How many instances run.
    pub parallelism: usize,
    /// Whether the node counts its output (it changes how many records
    /// flow); other nodes output what they take in.
    pub counted: bool,
}

/// How records travel along an edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// Within one fused chain: a function call.
    Fused,
    /// Across a channel, instance `i` to instance `i mod n`.
    Forward,
    /// Across a channel, by hash of the key.
    Hash,
    /// Across channels, every record to every consumer (fan-out).
    Broadcast,
}

impl EdgeKind {
    fn label(self) -> &'static str {
        match self {
            EdgeKind::Fused => "",
            EdgeKind::Forward => "forward",
            EdgeKind::Hash => "hash",
            EdgeKind::Broadcast => "fan-out",
        }
    }
}

/// The whole graph.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Pipeline name.
    pub name: String,
    /// Nodes in build order.
    pub nodes: Vec<Node>,
    /// Edges `(from, to, kind)`.
    pub edges: Vec<(usize, usize, EdgeKind)>,
}

/// How `describe` prints the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// Plain text, one node per line.
    Text,
    /// Graphviz DOT.
    Dot,
    /// Mermaid flowchart.
    Mermaid,
}

impl Graph {
    pub(crate) fn add_node(&mut self, label: String, kind: NodeKind, parallelism: usize) -> usize {
        let counted = match kind {
            NodeKind::Source => true,
            NodeKind::Sink => false,
            NodeKind::Stage => matches!(
                label.as_str(),
                "filter"
                    | "filter_map"
                    | "flat_map"
                    | "window aggregate"
                    | "join"
                    | "interval join"
            ),
        };
        let index = self.nodes.len();
        let slug: String = label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        self.nodes.push(Node {
            id: format!("{}/{index}-{}", self.name, slug.trim_matches('-')),
            label,
            kind,
            parallelism,
            counted,
        });
        index
    }

    pub(crate) fn add_edge(&mut self, from: usize, to: usize, kind: EdgeKind) {
        self.edges.push((from, to, kind));
    }

    /// The graph in `format`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pipeline_runtime::exec::{Graph, GraphFormat};
    /// let g = Graph::default();
    /// assert!(g.render(GraphFormat::Dot).starts_with("digraph"));
    /// ```
    pub fn render(&self, format: GraphFormat) -> String {
        let mut out = String::new();
        match format {
            GraphFormat::Text => {
                let _ = writeln!(out, "pipeline {}", self.name);
                for (i, n) in self.nodes.iter().enumerate() {
                    let inputs: Vec<String> = self
                        .edges
                        .iter()
                        .filter(|e| e.1 == i)
                        .map(|(from, _, kind)| match kind {
                            EdgeKind::Fused => format!("[{from}]"),
                            other => format!("[{from}] via {}", other.label()),
                        })
                        .collect();
                    let from = if inputs.is_empty() {
                        String::new()
                    } else {
                        format!("  <- {}", inputs.join(", "))
                    };
                    let _ = writeln!(out, "  [{i}] {} x{}{from}", n.label, n.parallelism);
                }
            }
            GraphFormat::Dot => {
                let _ = writeln!(out, "digraph \"{}\" {{\n  rankdir=LR;", self.name);
                for (i, n) in self.nodes.iter().enumerate() {
                    let shape = match n.kind {
                        NodeKind::Source => "invhouse",
                        NodeKind::Stage => "box",
                        NodeKind::Sink => "house",
                    };
                    let _ = writeln!(
                        out,
                        "  n{i} [label=\"{} x{}\", shape={shape}];",
                        n.label.replace('"', "'"),
                        n.parallelism
                    );
                }
                for (a, b, kind) in &self.edges {
                    let style = if *kind == EdgeKind::Fused {
                        ""
                    } else {
                        ", style=dashed"
                    };
                    let _ = writeln!(out, "  n{a} -> n{b} [label=\"{}\"{style}];", kind.label());
                }
                out.push_str("}\n");
            }
            GraphFormat::Mermaid => {
                out.push_str("flowchart LR\n");
                for (i, n) in self.nodes.iter().enumerate() {
                    let text = format!("{} x{}", n.label.replace('"', "'"), n.parallelism);
                    let _ = match n.kind {
                        NodeKind::Source => writeln!(out, "  n{i}[/\"{text}\"/]"),
                        NodeKind::Stage => writeln!(out, "  n{i}[\"{text}\"]"),
                        NodeKind::Sink => writeln!(out, "  n{i}[\\\"{text}\"\\]"),
                    };
                }
                for (a, b, kind) in &self.edges {
                    let _ = match kind {
                        EdgeKind::Fused => writeln!(out, "  n{a} --> n{b}"),
                        other => writeln!(out, "  n{a} -. {} .-> n{b}", other.label()),
                    };
                }
            }
        }
        out
    }
}
