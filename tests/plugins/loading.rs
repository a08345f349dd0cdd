//! Loading components: the cache, refused files, versions and worlds.

use super::*;

#[test]
fn a_core_module_is_refused() {
    let core_module = b"\0asm\x01\0\0\0";
    let err = engine().load_bytes("core.wasm", core_module).err().unwrap();
    assert!(matches!(err, PluginError::CoreModule { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("core WebAssembly module, not a component"),
        "{err}"
    );
}

#[test]
fn random_bytes_are_refused() {
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let err = engine().load_bytes("random.bin", &bytes).err().unwrap();
    assert!(matches!(err, PluginError::NotWasm { .. }), "{err}");
    assert!(err.to_string().contains("random.bin"), "{err}");
    let truncated = std::fs::read(weir_plugin_artifacts::COUNT).unwrap()[..1000].to_vec();
    let err = engine()
        .load_bytes("truncated.wasm", &truncated)
        .err()
        .unwrap();
    assert!(matches!(err, PluginError::Compile { .. }), "{err}");
}

#[test]
fn a_plugin_used_as_the_wrong_kind_is_refused() {
    let sink = load(weir_plugin_artifacts::COUNT);
    let err = TransformInstance::new(engine(), &sink, "node-x", &Limits::default())
        .err()
        .unwrap();
    let message = err.to_string();
    assert!(
        message.contains("node-x") && message.contains("a transform plugin"),
        "{message}"
    );
    assert!(message.contains("weir:plugin/sink@0.1.0"), "{message}");
}

#[test]
fn a_missing_file_names_the_path() {
    let err = engine()
        .load_file("/nonexistent/plugin.wasm".as_ref())
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("/nonexistent/plugin.wasm"),
        "{err}"
    );
}

#[test]
fn the_disk_cache_is_used_on_the_second_load() {
    let dir = tempfile::tempdir().unwrap();
    let options = weir::plugin::EngineOptions {
        cache_dir: Some(dir.path().to_path_buf()),
        pooling: false,
        ..weir::plugin::EngineOptions::default()
    };
    // Two engines stand for two processes: nothing is shared in memory.
    let first = weir::plugin::PluginEngine::new(&options).unwrap();
    let compiled = first
        .load_file(weir_plugin_artifacts::GENERATE.as_ref())
        .unwrap();
    assert_eq!(compiled.origin(), weir::plugin::Origin::Compiled);
    let second = weir::plugin::PluginEngine::new(&options).unwrap();
    let cached = second
        .load_file(weir_plugin_artifacts::GENERATE.as_ref())
        .unwrap();
    assert_eq!(cached.origin(), weir::plugin::Origin::DiskCache);
    assert_eq!(
        second
            .load_file(weir_plugin_artifacts::GENERATE.as_ref())
            .unwrap()
            .origin(),
        weir::plugin::Origin::Memory
    );
    eprintln!(
        "compile: {:?}, from the disk cache: {:?}",
        compiled.load_time(),
        cached.load_time()
    );
    // The cached component works.
    let mut source = SourceInstance::new(&second, &cached, "gen", &Limits::default()).unwrap();
    let schema = source.open(r#"{"rows": 3}"#).unwrap();
    assert_eq!(schema.field(0).name(), "event_time");
}

#[test]
fn an_unusable_cache_file_is_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let options = weir::plugin::EngineOptions {
        cache_dir: Some(dir.path().to_path_buf()),
        pooling: false,
        ..weir::plugin::EngineOptions::default()
    };
    weir::plugin::PluginEngine::new(&options)
        .unwrap()
        .load_file(weir_plugin_artifacts::COUNT.as_ref())
        .unwrap();
    // Compiled components and remembered digests alike.
    let digests = dir.path().join("digests");
    let files = std::fs::read_dir(dir.path())
        .unwrap()
        .chain(std::fs::read_dir(&digests).into_iter().flatten())
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file());
    for path in files {
        std::fs::write(path, b"garbage").unwrap();
    }
    let reloaded = weir::plugin::PluginEngine::new(&options)
        .unwrap()
        .load_file(weir_plugin_artifacts::COUNT.as_ref())
        .unwrap();
    assert_eq!(reloaded.origin(), weir::plugin::Origin::Compiled);
}
