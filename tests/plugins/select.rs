//! The `select` plugin.

use super::*;

const SELECT: &str = weir_plugin_artifacts::SELECT;

#[test]
fn projects_renames_casts_and_computes() {
    let input = mixed_batch();
    let config = r#"{"columns": [
        {"name": "who", "from": "name"},
        {"name": "id"},
        {"name": "amount_int", "from": "amount", "cast": "int64"},
        {"name": "source", "value": "web"},
        {"name": "score", "expr": "id * 2 + amount / 10"}
    ]}"#;
    let mut t = transform(SELECT, config, &input).unwrap();
    let out = run(&mut t, &input);
    assert_eq!(
        column_names(&out),
        ["who", "id", "amount_int", "source", "score"]
    );
    assert_eq!(strings(&out, "who"), strings(&input, "name"));
    assert_eq!(
        ints(&out, "amount_int"),
        [Some(10), None, Some(30), Some(-4), Some(50), Some(0)]
    );
    assert_eq!(strings(&out, "source"), vec![Some("web".to_string()); 6]);
    assert_eq!(
        floats(&out, "score"),
        [Some(3.0), None, None, Some(7.6), Some(15.0), Some(12.0)]
    );
    assert_eq!(run(&mut t, &input.slice(0, 0)).num_rows(), 0);
}

#[test]
fn star_keeps_every_input_column_and_adds_new_ones() {
    let input = mixed_batch();
    let config = r#"{"columns": [{"name": "*"}, {"name": "score", "expr": "id * 2"}]}"#;
    let mut t = transform(SELECT, config, &input).unwrap();
    let out = run(&mut t, &input);
    assert_eq!(
        column_names(&out),
        ["id", "amount", "name", "at", "vip", "score"]
    );
    assert_eq!(strings(&out, "name"), strings(&input, "name"));
    assert_eq!(ints(&out, "score")[0], Some(2));
}

#[test]
fn bad_config_names_the_column_entry() {
    let input = mixed_batch();
    for (config, expected) in [
        (r#"{"columns": [{"name": "nope"}]}"#, "columns[0]"),
        (
            r#"{"columns": [{"name": "x", "expr": "name * 2"}]}"#,
            "not a number",
        ),
        (
            r#"{"columns": [{"name": "x", "from": "id", "cast": "int65"}]}"#,
            "int65",
        ),
        (r#"{"columns": []}"#, "at least one"),
        (
            r#"{"columns": [{"name": "*"}, {"name": "id", "expr": "id + 1"}]}"#,
            "column \"id\" twice",
        ),
        (
            r#"{"columns": [{"name": "*", "cast": "utf8"}]}"#,
            "keeps every input column",
        ),
    ] {
        let err = transform(SELECT, config, &input).err().expect(config);
        assert_eq!(
            err.guest_kind(),
            Some(GuestErrorKind::InvalidConfig),
            "{config}: {err}"
        );
        assert!(err.to_string().contains(expected), "{config}: {err}");
    }
}
