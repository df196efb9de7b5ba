//! uniffi's bindgen, built from the workspace so that it is exactly the uniffi version of
//! bindings/python (PyPI's `uniffi-bindgen` lags behind and would refuse the crate's metadata).
fn main() {
    uniffi::uniffi_bindgen_main()
}
