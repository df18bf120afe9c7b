//! `report.html`: one self-contained page (pictures embedded as data URIs, no scripts, no
//! network) with the run's summary, silhouette scores, pictures and config.

use std::fmt::Write;

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Standard base64 (RFC 4648, with padding).
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A picture on the page.
#[derive(Debug, Clone)]
pub struct PageImage {
    /// Caption under the picture (plain text).
    pub caption: String,
    /// File name beside the page (for the link), e.g. `curves.png`.
    pub file: String,
    /// The PNG bytes, embedded.
    pub png: Vec<u8>,
}

/// A table: header cells and rows of cells (plain text).
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Header cells.
    pub header: Vec<String>,
    /// Rows.
    pub rows: Vec<Vec<String>>,
}

/// A run inside another (a fold of a cross-validated run, a σ branch), on its parent's page.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldLink {
    /// Its folder's name (`fold_1`, `sigma_2`).
    pub name: String,
    /// Its test accuracy, from its `summary.json`.
    pub test_accuracy: Option<f64>,
    /// Its own page, relative to the parent's (`fold_1/report.html`).
    pub page: String,
}

/// Everything the page shows.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Page title.
    pub title: String,
    /// Key/value summary of the run.
    pub summary: Vec<(String, String)>,
    /// Per-module table from `summary.json`.
    pub modules: Table,
    /// Silhouette scores of the t-SNE pictures.
    pub silhouettes: Table,
    /// Things that are missing or were skipped, said plainly.
    pub notes: Vec<String>,
    /// Pictures, in order.
    pub images: Vec<PageImage>,
    /// `config.toml`, if present.
    pub config: Option<String>,
    /// The runs inside this one (folds, σ branches), each with a link to its own page.
    pub folds: Vec<FoldLink>,
}

fn table(out: &mut String, t: &Table) {
    out.push_str("<table>\n<tr>");
    for h in &t.header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr>\n");
    for r in &t.rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{}</td>", escape(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

const STYLE: &str = "body{font-family:'DejaVu Sans',Arial,sans-serif;max-width:1240px;margin:24px auto;padding:0 16px;color:#222}
h1{font-size:26px;margin-bottom:4px}h2{font-size:20px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #ccc;padding:4px 10px;text-align:left;font-size:14px}
th{background:#f2f2f2}td.num{text-align:right}figure{margin:16px 0}img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:14px;color:#444;margin-top:4px}.note{background:#fff6d6;border:1px solid #e6c84f;padding:6px 10px;margin:6px 0;font-size:14px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:12px}pre{background:#f7f7f7;padding:10px;font-size:13px;overflow-x:auto}";

/// Renders the page.
pub fn render(p: &Page) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>\n{STYLE}\n</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&p.title),
        escape(&p.title)
    );
    for n in &p.notes {
        let _ = writeln!(out, "<div class=\"note\">{}</div>", escape(n));
    }
    if !p.summary.is_empty() {
        out.push_str("<h2>Summary</h2>\n");
        let t = Table {
            header: vec!["".into(), "".into()],
            rows: p
                .summary
                .iter()
                .map(|(k, v)| vec![k.clone(), v.clone()])
                .collect(),
        };
        let mut s = String::new();
        table(&mut s, &t);
        // A key/value table needs no header row.
        out.push_str(&s.replacen("<tr><th></th><th></th></tr>\n", "", 1));
    }
    if !p.folds.is_empty() {
        let folds = p.folds.iter().all(|f| f.name.starts_with("fold_"));
        out.push_str(if folds {
            "<h2>Folds</h2>\n<p>Each fold trained on the other folds and was tested on its own \
             graphs; its page has its curves, information plane and t-SNE pictures.</p>\n"
        } else {
            "<h2>σ branches</h2>\n<p>Each branch is an HSIC network trained alone with its own \
             kernel width; the pictures below are of the combined network, each branch's are on \
             its page.</p>\n"
        });
        out.push_str("<table>\n<tr><th>run</th><th>test accuracy</th><th>report</th></tr>\n");
        for f in &p.folds {
            let acc = f
                .test_accuracy
                .map_or("–".to_string(), |a| format!("{:.2} %", a * 100.0));
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td><a href=\"{p}\">{p}</a></td></tr>",
                escape(&f.name),
                escape(&acc),
                p = escape(&f.page)
            );
        }
        out.push_str("</table>\n");
    }
    if !p.modules.rows.is_empty() {
        out.push_str("<h2>Modules (last epoch)</h2>\n");
        table(&mut out, &p.modules);
    }
    if !p.silhouettes.rows.is_empty() {
        out.push_str("<h2>How well classes cluster (silhouette)</h2>\n<p>Silhouette s(i) = (b&minus;a)/max(a,b), Euclidean, averaged over the sample: a = mean distance to the own class, b = mean distance to the nearest other class. 1 = tight separate classes, 0 = overlapping.</p>\n");
        table(&mut out, &p.silhouettes);
    }
    let (tsne, other): (Vec<_>, Vec<_>) =
        p.images.iter().partition(|i| i.file.starts_with("tsne_"));
    for (heading, imgs, grid) in [
        ("Learning curves and information plane", &other, false),
        (
            "t-SNE of the input and of each module's output",
            &tsne,
            true,
        ),
    ] {
        if imgs.is_empty() {
            continue;
        }
        let _ = writeln!(out, "<h2>{heading}</h2>");
        if grid {
            out.push_str("<div class=\"grid\">\n");
        }
        for i in imgs.iter() {
            let _ = writeln!(
                out,
                "<figure><a href=\"{f}\"><img alt=\"{c}\" src=\"data:image/png;base64,{}\"></a><figcaption>{c}</figcaption></figure>",
                base64(&i.png),
                f = escape(&i.file),
                c = escape(&i.caption)
            );
        }
        if grid {
            out.push_str("</div>\n");
        }
    }
    if let Some(c) = &p.config {
        let _ = writeln!(
            out,
            "<h2>Config (config.toml)</h2>\n<pre>{}</pre>",
            escape(c)
        );
    }
    out.push_str("</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o, "{i}");
        }
    }

    #[test]
    fn escapes_and_embeds() {
        assert_eq!(escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
        let page = Page {
            title: "run <1>".into(),
            notes: vec!["no embeddings.safetensors".into()],
            images: vec![PageImage {
                caption: "c".into(),
                file: "curves.png".into(),
                png: vec![1, 2, 3],
            }],
            config: Some("a = \"<x>\"".into()),
            ..Page::default()
        };
        let html = render(&page);
        assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
        assert!(html.contains("<h1>run &lt;1&gt;</h1>"));
        assert!(html.contains("src=\"data:image/png;base64,AQID\""));
        assert!(html.contains("class=\"note\">no embeddings.safetensors"));
        assert!(html.contains("a = &quot;&lt;x&gt;&quot;"));
        assert!(!html.contains("http"), "the page must not need the network");
    }
}
