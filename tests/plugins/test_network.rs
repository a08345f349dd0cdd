//! The `test-network` plugin.

use super::*;

#[test]
fn connecting_is_denied_even_though_the_host_links_sockets() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let input = mixed_batch();
    let config = format!(r#"{{"connect": "{address}"}}"#);
    let err = transform(weir_plugin_artifacts::TEST_NETWORK, &config, &input)
        .err()
        .unwrap();
    assert!(
        err.to_string().contains(&format!("connect {address}")),
        "{err}"
    );
}
