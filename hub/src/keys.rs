//! The hub's ed25519 signing key: generated once by `hashward-hub keygen`, private file mode
//! 0600, public key printed (hex) for the agents' `[fleet] hub_public_key`.
//!
//! Must never: overwrite an existing key, write the private key readable by others, or load a
//! private key file that others can read.

use ed25519_dalek::SigningKey;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0} already exists; refusing to replace the fleet's signing key")]
    Exists(PathBuf),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0} is readable by group or others (mode {1:o}); chmod 600 it")]
    Permissions(PathBuf, u32),
    #[error("{0} does not hold a hex-encoded 32-byte ed25519 key")]
    Malformed(PathBuf),
}

/// Creates `dir/hub.key` (0600) and `dir/hub.pub`; returns the public key in hex.
pub fn generate(dir: &Path) -> Result<String, KeyError> {
    std::fs::create_dir_all(dir).map_err(|e| KeyError::Io(dir.to_path_buf(), e))?;
    let (private, public) = (dir.join("hub.key"), dir.join("hub.pub"));
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&private)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => KeyError::Exists(private.clone()),
            _ => KeyError::Io(private.clone(), e),
        })?;
    f.write_all(format!("{}\n", hex::encode(key.to_bytes())).as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| KeyError::Io(private.clone(), e))?;
    let public_hex = hex::encode(key.verifying_key().to_bytes());
    std::fs::write(&public, format!("{public_hex}\n")).map_err(|e| KeyError::Io(public, e))?;
    Ok(public_hex)
}

/// Loads a private key written by [`generate`], refusing one others can read.
pub fn load(path: &Path) -> Result<SigningKey, KeyError> {
    let meta = std::fs::metadata(path).map_err(|e| KeyError::Io(path.to_path_buf(), e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Permissions(path.to_path_buf(), mode));
    }
    let text = std::fs::read_to_string(path).map_err(|e| KeyError::Io(path.to_path_buf(), e))?;
    let bytes = hex::decode(text.trim()).map_err(|_| KeyError::Malformed(path.to_path_buf()))?;
    let bytes: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| KeyError::Malformed(path.to_path_buf()))?;
    Ok(SigningKey::from_bytes(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_with_private_mode_and_loads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let public = generate(dir.path()).expect("keygen");
        let path = dir.path().join("hub.key");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let key = load(&path).expect("load");
        assert_eq!(hex::encode(key.verifying_key().to_bytes()), public);
        assert!(matches!(generate(dir.path()), Err(KeyError::Exists(_))));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(load(&path), Err(KeyError::Permissions(..))));
    }
}
