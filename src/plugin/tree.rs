//! A labelled tree, drawn with box characters like `tree(1)`.

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Node {
    pub label: String,
    pub children: Vec<Node>,
}

impl Node {
    pub fn new(label: impl Into<String>) -> Node {
        Node { label: label.into(), children: Vec::new() }
    }

    pub fn child(mut self, node: Node) -> Node {
        self.children.push(node);
        self
    }

    pub fn leaf(self, label: impl Into<String>) -> Node {
        self.child(Node::new(label))
    }

    pub fn render(&self) -> String {
        let mut out = format!("{}\n", self.label);
        draw(&self.children, "", &mut out);
        out
    }
}

fn draw(nodes: &[Node], prefix: &str, out: &mut String) {
    for (i, node) in nodes.iter().enumerate() {
        let last = i + 1 == nodes.len();
        let (branch, indent) = if last { ("└─ ", "   ") } else { ("├─ ", "│  ") };
        // A multi-line label keeps its later lines under its first.
        let mut lines = node.label.lines();
        out.push_str(&format!("{prefix}{branch}{}\n", lines.next().unwrap_or_default()));
        for more in lines {
            let bar = if node.children.is_empty() { "   " } else { "│  " };
            out.push_str(&format!("{prefix}{indent}{bar}{more}\n"));
        }
        draw(&node.children, &format!("{prefix}{indent}"), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_branches_and_continuations() {
        let tree = Node::new("root")
            .child(Node::new("a").leaf("a1").leaf("a2"))
            .child(Node::new("b").child(Node::new("b1").leaf("b11")));
        assert_eq!(tree.render(), "root\n├─ a\n│  ├─ a1\n│  └─ a2\n└─ b\n   └─ b1\n      └─ b11\n");
    }
}
