//! `huiyin keys`: the personal-data encryption keys (SM4) and their rotation.
//!
//! The keyring comes from `HUIYIN_DATA_KEY` (with `HUIYIN_DATA_KEYS_OLD` for keys still being
//! rotated away from), or from key files in `<data dir>/keys/`, created on first start with
//! mode 0600. Production keeps the key outside the data directory (a separate volume, a KMS,
//! or a certified cryptographic module behind `huiyin_app::crypto::DataCipher`).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use huiyin_app::crypto::{self, Keyring};
use huiyin_app::{App, Config};
use huiyin_store::Store;

/// The application settings with the real keyring.
pub fn config(data_dir: &Path) -> Result<Config> {
    let ring = Keyring::load(&crypto::key_dir(data_dir))
        .context("cannot load the personal-data key (HUIYIN_DATA_KEY or <data>/keys/)")?;
    Ok(Config {
        cipher: Arc::new(ring),
        ..Config::default()
    })
}

fn env_key_set() -> bool {
    std::env::var("HUIYIN_DATA_KEY").is_ok_and(|k| !k.trim().is_empty())
}

/// `huiyin keys status`: the current key and the keys rows still use.
pub async fn status(store: Store, data_dir: &Path) -> Result<()> {
    let app = App::new(store, config(data_dir)?);
    let in_use = app
        .data_keys_in_use()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let out = serde_json::json!({
        "current_key": app.cipher().current_key_id(),
        "keys_in_use": in_use,
        "source": if env_key_set() { "HUIYIN_DATA_KEY" } else { "key files" },
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// `huiyin keys rotate`: re-encrypts every personal-data row under a new key.
///
/// With key files: if every row is already under the current key, a new key is written
/// (0600) and made current first; if a previous rotation stopped half-way, it is resumed under
/// the key it started. Old keys stay loaded until no row uses them, then move to
/// `keys/retired/`. With `HUIYIN_DATA_KEY`, the operator sets the new key there and the old
/// ones in `HUIYIN_DATA_KEYS_OLD`; rotate re-encrypts under the current one.
pub async fn rotate(store: Store, data_dir: &Path, batch: u32) -> Result<()> {
    let dir = crypto::key_dir(data_dir);
    let from_env = env_key_set();
    let mut app = App::new(store.clone(), config(data_dir)?);
    let in_use = app
        .data_keys_in_use()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let current = app.cipher().current_key_id().to_string();
    let pending = in_use.iter().any(|k| *k != current);
    if !from_env && !pending {
        let id = crypto::write_key(&dir, &crypto::new_key())?;
        crypto::set_current(&dir, &id)?;
        eprintln!("new data key {id} written to {}", dir.display());
        app = App::new(store, config(data_dir)?);
    } else if pending {
        eprintln!("resuming: some rows are not under the current key {current}");
    }
    let report = app
        .reencrypt_personal_data(batch)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    if report.skipped_concurrent > 0 {
        bail!(
            "{} row(s) changed during rotation; run `huiyin keys rotate` again",
            report.skipped_concurrent
        );
    }
    let still = app
        .data_keys_in_use()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if !from_env {
        let ring = Keyring::load_dir(&dir)?;
        for id in ring.key_ids() {
            if id != report.current_key && !still.contains(&id) {
                crypto::retire_key(&dir, &id)?;
                eprintln!("key {id} no longer used: moved to keys/retired/");
            }
        }
    }
    Ok(())
}
