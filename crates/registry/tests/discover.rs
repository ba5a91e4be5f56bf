//! `Store::discover` reads `$TARJOMAN_HOME`. This is the only test in its
//! binary, so changing the environment races with no other thread.

use std::path::Path;

use tarjoman_registry::{Store, StoreOrigin};

#[test]
fn tarjoman_home_wins_over_the_checkout() {
    let home = tempfile::tempdir().expect("tempdir");
    let checkout = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(checkout.path().join("models")).expect("mkdir");
    std::fs::write(checkout.path().join("models/manifest.toml"), "").expect("write");

    std::env::set_var("TARJOMAN_HOME", home.path());
    std::env::set_var("TARJOMAN_PYPI_INDEX", "http://127.0.0.1:1/simple");
    let store = Store::discover(Some(checkout.path()));
    assert_eq!(store.root(), home.path());
    assert_eq!(store.origin(), StoreOrigin::Env);
    assert_eq!(store.fetch_config().pypi_index, "http://127.0.0.1:1/simple");
    assert_eq!(
        store.fetch_config().npm_registry,
        "https://registry.npmjs.org"
    );

    std::env::remove_var("TARJOMAN_HOME");
    let store = Store::discover(Some(checkout.path()));
    assert_eq!(store.root(), checkout.path().join("models"));
    assert_eq!(store.origin(), StoreOrigin::Checkout);

    let store = Store::discover(Some(Path::new("/nonexistent/checkout")));
    assert_eq!(store.origin(), StoreOrigin::Cache);
    assert!(
        store.root().ends_with("tarjoman"),
        "{}",
        store.root().display()
    );
}
