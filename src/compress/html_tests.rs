//! The block HTML reader's cases, each checked against what Python's `html.parser` finds.
use super::*;

fn tags(html: &str) -> Vec<(String, Option<String>, String)> {
    elements(html)
        .expect("parses")
        .into_iter()
        .map(|e| {
            let src = e.attr("src").or(e.attr("href")).map(str::to_string);
            (e.tag, src, e.text)
        })
        .collect()
}

fn one(tag: &str, src: Option<&str>, text: &str) -> (String, Option<String>, String) {
    (tag.to_string(), src.map(str::to_string), text.to_string())
}

#[test]
fn reads_links_styles_and_scripts_in_order() {
    let html = "\n<LINK rel=\"stylesheet\" href=\"/static/a.css?x=1&amp;y=2\" media=screen>\n<!-- <script src=\"/hidden.js\"></script> -->\n<style>p{}</style><script async src='/static/b.js'></script><script>\nvar a = '<b>';\n</SCRIPT><link rel=icon href=x.ico />";
    let found = elements(html).expect("parses");
    assert_eq!(
        found.iter().map(|e| e.tag.as_str()).collect::<Vec<_>>(),
        vec!["link", "style", "script", "script", "link"]
    );
    assert_eq!(found[0].attr("href"), Some("/static/a.css?x=1&y=2"));
    assert_eq!(found[0].attr("media"), Some("screen"));
    assert_eq!((found[0].line, found[0].column), (1, 1));
    assert_eq!(found[1].text, "p{}");
    assert_eq!(found[2].attr("async"), Some(""));
    assert!(found[2].attrs[0].value.is_none());
    assert_eq!(found[3].text, "\nvar a = '<b>';\n");
    assert_eq!(found[4].attr("rel"), Some("icon"));
}

#[test]
fn self_closing_scripts_are_whole_elements() {
    let html = "<script src=\"/s/a.js\" />\n<script type=\"text/javascript\" src=\"/s/b.js\"/>\n<script src=/s/c.js></script>";
    assert_eq!(
        tags(html),
        vec![
            one("script", Some("/s/a.js"), ""),
            one("script", Some("/s/b.js"), ""),
            one("script", Some("/s/c.js"), ""),
        ]
    );
}

#[test]
fn raw_text_runs_to_its_own_close_tag() {
    assert_eq!(
        tags("<script>a = '</div>'; b = '<script>';</script >x<style>a{}</STYLE>"),
        vec![
            one("script", None, "a = '</div>'; b = '<script>';"),
            one("style", None, "a{}"),
        ]
    );
    // Left open: it swallows the rest and keeps no text.
    assert_eq!(
        tags("<script>a();\n<script src=/s/b.js></script"),
        vec![one("script", None, "")]
    );
}

#[test]
fn comments_hide_what_they_hold() {
    assert_eq!(
        tags("<!--[if lt IE 9]><script src=/s/ie.js></script><![endif]--><script src=/s/a.js></script><!-- x -- ><link rel=stylesheet href=/s/h.css>"),
        vec![one("script", Some("/s/a.js"), ""), one("link", Some("/s/h.css"), "")]
    );
    // Unclosed: text only up to the next `>`.
    assert_eq!(tags("<!-- open <script src=/s/a.js></script>"), vec![]);
    assert_eq!(
        tags("<!-- open > <script src=/s/a.js></script>"),
        vec![one("script", Some("/s/a.js"), "")]
    );
    assert_eq!(
        tags("<![CDATA[ <script src=/s/x.js></script> ]]><script src=/s/a.js></script>"),
        vec![one("script", Some("/s/a.js"), "")]
    );
}

#[test]
fn noscript_and_template_do_not_hide_elements() {
    assert_eq!(
        tags("<noscript><link rel=stylesheet href=/s/n.css></noscript><template><script src=/s/t.js></script></template>"),
        vec![one("link", Some("/s/n.css"), ""), one("script", Some("/s/t.js"), "")]
    );
}

#[test]
fn attributes_read_as_python_reads_them() {
    let found = elements("<script SRC=/s/a.js Async data-x==\"1\" src='/s/b.js' defer></script>")
        .expect("parses");
    assert_eq!(found[0].attr("src"), Some("/s/b.js"));
    assert_eq!(found[0].attr("data-x"), Some("1"));
    assert!(found[0].has("async") && found[0].has("defer"));
    let found = elements(
        "<link rel=stylesheet href=\"/static/caf&eacute;.css?a=1&amp;b=2&#x2F;&#47;\" media=\"print&comma;screen\">",
    )
    .expect("parses");
    assert_eq!(found[0].attr("href"), Some("/static/café.css?a=1&b=2//"));
    assert_eq!(found[0].attr("media"), Some("print,screen"));
}

#[test]
fn a_start_tag_that_does_not_end_well_is_text() {
    assert_eq!(tags("<script src=/s/a.js"), vec![]);
    // `<p` reads as one more attribute name.
    assert_eq!(
        tags("<link rel=stylesheet href=/s/a.css <p>"),
        vec![one("link", Some("/s/a.css"), "")]
    );
    // A stray quote reads as the start of another attribute.
    assert_eq!(
        tags("<script src=\"/s/a.js\"\"></script>"),
        vec![one("script", Some("/s/a.js"), "")]
    );
}

#[test]
fn a_second_bad_character_reference_ends_the_parse() {
    assert_eq!(
        tags("&#; <script src=/s/a.js></script> &#; <script src=/s/b.js></script>"),
        vec![one("script", Some("/s/a.js"), "")]
    );
    assert_eq!(
        tags("&#65; &amp <script src=/s/a.js></script>"),
        vec![one("script", Some("/s/a.js"), "")]
    );
}

#[test]
fn never_panics_on_ragged_input() {
    for html in [
        "<",
        "<!",
        "<![",
        "<![x",
        "</",
        "</>",
        "<a b='",
        "<script",
        "&#x",
        "<!--",
        "<?",
        "<link rel=stylesheet href=é/>",
        "<scrïpt>",
        "<script>é</scrïpt>",
        "</ script>",
    ] {
        let _ = elements(html);
    }
}
