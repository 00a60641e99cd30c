//! A report as data, and its two writers: [`markdown`] (`summary.md`, also printed)
//! and [`html`] (`index.html`). Each section is described once, as a [`Section`]; the
//! writers decide only how a block looks, never what a report says.

use std::fmt::Write as _;

/// A table: column titles and rows of cells.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Table {
    /// Column titles.
    pub(crate) headers: Vec<String>,
    /// Rows of cells.
    pub(crate) rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles and no rows yet.
    pub(crate) fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }
}

/// A chart of the HTML page: its SVG, or why it could not be drawn.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Chart {
    /// Inline SVG.
    Drawn(String),
    /// A chart that failed, shown as such instead of coming out empty.
    Failed {
        /// Which chart.
        name: String,
        /// Why, with its causes.
        error: String,
    },
}

/// One block of a section.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Block {
    /// A bulleted list.
    Bullets(Vec<String>),
    /// A table.
    Table(Table),
    /// A paragraph.
    Paragraph(String),
    /// Charts. HTML only: Markdown has no inline SVG, and the summary is printed to a
    /// terminal.
    Charts(Vec<Chart>),
}

/// A section: an optional heading and its blocks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Section {
    /// The heading; none for the lead-in under the title.
    pub(crate) heading: Option<String>,
    /// The content, in order.
    pub(crate) blocks: Vec<Block>,
}

impl Section {
    /// A section under `heading`.
    pub(crate) fn new(heading: impl Into<String>, blocks: Vec<Block>) -> Self {
        Self {
            heading: Some(heading.into()),
            blocks,
        }
    }

    /// Blocks without a heading of their own.
    pub(crate) fn untitled(blocks: Vec<Block>) -> Self {
        Self {
            heading: None,
            blocks,
        }
    }
}

/// A whole report.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Document {
    /// The title (the page's `<h1>`, the summary's `#`).
    pub(crate) title: String,
    /// The sections, in order.
    pub(crate) sections: Vec<Section>,
}

/// The document as Markdown: `# title`, then each section's `## heading` and blocks,
/// each preceded by a blank line.
pub(crate) fn markdown(document: &Document) -> String {
    let mut out = format!("# {}\n", document.title);
    for section in &document.sections {
        if let Some(heading) = &section.heading {
            let _ = write!(out, "\n## {heading}\n");
        }
        for block in &section.blocks {
            match block {
                Block::Bullets(lines) => {
                    out.push('\n');
                    for line in lines {
                        let _ = writeln!(out, "- {line}");
                    }
                }
                Block::Table(table) => {
                    out.push('\n');
                    markdown_table(&mut out, table);
                }
                Block::Paragraph(text) => {
                    let _ = write!(out, "\n{text}\n");
                }
                Block::Charts(_) => {}
            }
        }
    }
    out
}

/// One table as Markdown.
fn markdown_table(out: &mut String, table: &Table) {
    markdown_row(out, &table.headers);
    let _ = writeln!(out, "|{}", "---|".repeat(table.headers.len()));
    for row in &table.rows {
        markdown_row(out, row);
    }
}

/// One line of a Markdown table; a `|` in a cell is escaped so that it stays one cell.
pub(crate) fn markdown_row(out: &mut String, cells: &[String]) {
    let cells: Vec<String> = cells.iter().map(|cell| cell.replace('|', "\\|")).collect();
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

/// The page's style sheet: right-aligned figures, the first two columns (names) left.
const STYLE: &str = "body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}\
    table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}\
    th{background:#f3f3f3}td:first-child,td:nth-child(2){text-align:left}.charts svg{margin:6px}";

/// The document as one HTML page, every text escaped.
pub(crate) fn html(document: &Document, page_title: &str) -> String {
    let mut out = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style>\
         </head><body><h1>{}</h1>",
        escape(page_title),
        escape(&document.title)
    );
    for section in &document.sections {
        if let Some(heading) = &section.heading {
            let _ = write!(out, "<h2>{}</h2>", escape(heading));
        }
        for block in &section.blocks {
            match block {
                Block::Bullets(lines) => {
                    out.push_str("<ul>");
                    for line in lines {
                        let _ = write!(out, "<li>{}</li>", escape(line));
                    }
                    out.push_str("</ul>");
                }
                Block::Table(table) => html_table(&mut out, table),
                Block::Paragraph(text) => {
                    let _ = write!(out, "<p>{}</p>", escape(text));
                }
                Block::Charts(charts) => {
                    out.push_str("<div class=\"charts\">");
                    for chart in charts {
                        match chart {
                            Chart::Drawn(svg) => out.push_str(svg),
                            Chart::Failed { name, error } => {
                                let _ = write!(
                                    out,
                                    "<p><strong>Chart {} could not be drawn: {}</strong></p>",
                                    escape(name),
                                    escape(error)
                                );
                            }
                        }
                    }
                    out.push_str("</div>");
                }
            }
        }
    }
    out.push_str("</body></html>\n");
    out
}

fn html_table(out: &mut String, table: &Table) {
    out.push_str("<table><thead><tr>");
    for header in &table.headers {
        let _ = write!(out, "<th>{}</th>", escape(header));
    }
    out.push_str("</tr></thead><tbody>");
    for row in &table.rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", escape(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> Document {
        let mut table = Table::new(&["server", "p99 < 1 ms"]);
        table.rows.push(vec!["a&b".to_owned(), "0.5".to_owned()]);
        table.rows.push(vec!["a|b".to_owned(), "1".to_owned()]);
        Document {
            title: "Title".to_owned(),
            sections: vec![
                Section::untitled(vec![
                    Block::Bullets(vec!["finding <1>".to_owned()]),
                    Block::Charts(vec![
                        Chart::Drawn("<svg/>".to_owned()),
                        Chart::Failed {
                            name: "p99".to_owned(),
                            error: "no <points>".to_owned(),
                        },
                    ]),
                ]),
                Section::new("Servers", vec![Block::Table(table)]),
                Section::new("Skipped", vec![Block::Paragraph("Not run.".to_owned())]),
            ],
        }
    }

    #[test]
    fn markdown_writes_every_block_but_charts() {
        assert_eq!(
            markdown(&document()),
            "# Title\n\n- finding <1>\n\n## Servers\n\n| server | p99 < 1 ms |\n|---|---|\n\
             | a&b | 0.5 |\n| a\\|b | 1 |\n\n## Skipped\n\nNot run.\n"
        );
    }

    #[test]
    fn html_writes_every_block_escaped_in_order() {
        let page = html(&document(), "Page");
        let body = &page[page.find("<body>").expect("body")..];
        assert_eq!(
            body,
            "<body><h1>Title</h1><ul><li>finding &lt;1&gt;</li></ul><div class=\"charts\"><svg/>\
             <p><strong>Chart p99 could not be drawn: no &lt;points&gt;</strong></p></div>\
             <h2>Servers</h2><table><thead><tr><th>server</th><th>p99 &lt; 1 ms</th></tr></thead>\
             <tbody><tr><td>a&amp;b</td><td>0.5</td></tr><tr><td>a|b</td><td>1</td></tr></tbody></table>\
             <h2>Skipped</h2><p>Not run.</p></body></html>\n"
        );
        assert!(page.contains("<title>Page</title>"));
    }
}
