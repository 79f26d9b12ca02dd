//! Checks of the harness itself: the stand-ins start, answer, and are gone after drop.

use crate::support::{http_status, moto::Moto, registry::Registry};

#[test]
fn stand_ins_start_and_stop_by_pid() {
    let moto = Moto::start();
    let registry = Registry::start();
    let (moto_port, registry_port) = (moto.port, registry.port);
    assert_eq!(http_status(moto_port, "/moto-api/"), Some(200));
    assert_eq!(http_status(registry_port, "/v2/"), Some(401), "registry must demand auth");
    drop(moto);
    drop(registry);
    assert_eq!(http_status(moto_port, "/moto-api/"), None);
    assert_eq!(http_status(registry_port, "/v2/"), None);
}
