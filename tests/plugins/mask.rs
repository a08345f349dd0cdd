//! The `mask` plugin.

use super::*;

#[test]
fn redacts_hashes_and_partially_masks_in_place() {
    let input = mixed_batch();
    let config = r#"{"columns": {
        "name": {"method": "partial", "keep_last": 1},
        "id": {"method": "hash", "salt": "pepper"},
        "amount": {"method": "redact"}
    }}"#;
    let mut t = transform(weir_plugin_artifacts::MASK, config, &input).unwrap();
    let out = run(&mut t, &input);
    assert_eq!(column_names(&out), ["id", "amount", "name", "at", "vip"]);
    assert_eq!(
        strings(&out, "name"),
        [
            Some("**n".into()),
            Some("**b".into()),
            Some("**d".into()),
            None,
            Some("**e".into()),
            Some("**y".into())
        ]
    );
    assert_eq!(strings(&out, "amount")[0].as_deref(), Some("****"));
    assert_eq!(strings(&out, "amount")[1], None, "nulls stay null");
    let hashes = strings(&out, "id");
    assert_eq!(
        hashes[0].as_deref(),
        Some(weir::plugin::sha256_hex(b"pepper1").as_str()),
        "salted SHA-256 of the value"
    );
    assert_eq!(hashes[2], None);
    assert_eq!(
        out.column(3),
        input.column(3),
        "unmasked columns pass through"
    );
}

#[test]
fn hash_needs_a_salt_and_columns_must_exist() {
    let input = mixed_batch();
    let err = transform(
        weir_plugin_artifacts::MASK,
        r#"{"columns": {"name": {"method": "hash"}}}"#,
        &input,
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("salt"), "{err}");
    let err = transform(
        weir_plugin_artifacts::MASK,
        r#"{"columns": {"mail": {"method": "redact"}}}"#,
        &input,
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("columns.mail"), "{err}");
}
