//! Sysfs-shaped fixture trees: copied to a scratch dir so a test can change a sensor's value
//! (or break it) while the agent reads the tree.

use std::path::Path;

/// Copies the directory tree `from` into `to` (created), files and subdirectories.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let dest = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy");
        }
    }
}
