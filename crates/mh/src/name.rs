//! Folder names relative to the mail root.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{MhError, Result};

/// Maximum length of a folder name, in bytes (Linux `PATH_MAX` is 4096; this leaves room for
/// the mail root and a message number).
pub const MAX_FOLDER_NAME_LEN: usize = 1024;
/// Maximum length of one folder name component, in bytes (Linux `NAME_MAX`).
pub const MAX_FOLDER_COMPONENT_LEN: usize = 255;

/// A folder name relative to the mail root, such as `inbox` or `lists/rust`. Components are
/// separated by `/`.
///
/// These names are rejected:
/// * names that would escape the mail root (`..`, `.`, a leading `/`, empty components);
/// * all-digit components, which nmh would read as message numbers;
/// * components starting with `.`, which nmh ignores and this crate uses for its own files;
/// * components starting with `,` or `#` (backup prefixes of removed messages) or with `+`
///   or `@` (nmh's folder-name prefixes);
/// * control characters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FolderName(String);

impl FolderName {
    /// Validates `name`.
    pub fn new(name: &str) -> Result<Self> {
        let invalid = |reason| MhError::InvalidFolderName {
            name: name.to_owned(),
            reason,
        };
        if name.is_empty() {
            return Err(invalid("empty name"));
        }
        if name.len() > MAX_FOLDER_NAME_LEN {
            return Err(invalid("longer than 1024 bytes"));
        }
        if name.starts_with('/') {
            return Err(invalid("absolute paths are not folder names"));
        }
        for component in name.split('/') {
            check_component(component).map_err(invalid)?;
        }
        Ok(FolderName(name.to_owned()))
    }

    /// Returns the name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns the parent folder's name, or `None` for a top-level folder.
    pub fn parent(&self) -> Option<FolderName> {
        self.0
            .rsplit_once('/')
            .map(|(parent, _)| FolderName(parent.to_owned()))
    }

    /// Returns the name of the sub-folder `component` of this folder.
    pub fn child(&self, component: &str) -> Result<FolderName> {
        FolderName::new(&format!("{}/{component}", self.0))
    }

    /// Returns the folder's directory under `root`.
    pub fn path_in(&self, root: &Path) -> PathBuf {
        root.join(&self.0)
    }
}

impl fmt::Display for FolderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Returns true when `component` could be a sub-folder's directory name.
pub(crate) fn is_folder_component(component: &str) -> bool {
    check_component(component).is_ok()
}

fn check_component(component: &str) -> std::result::Result<(), &'static str> {
    if component.is_empty() {
        return Err("empty component (leading, trailing or doubled '/')");
    }
    if component == "." || component == ".." {
        return Err("'.' and '..' would leave the folder tree");
    }
    if component.len() > MAX_FOLDER_COMPONENT_LEN {
        return Err("a component is longer than 255 bytes");
    }
    if component.bytes().all(|b| b.is_ascii_digit()) {
        return Err("all-digit components read as message numbers");
    }
    if component.starts_with(['.', ',', '#', '+', '@']) {
        return Err("components must not start with '.', ',', '#', '+' or '@'");
    }
    if component.chars().any(char::is_control) {
        return Err("control characters are not allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_are_accepted() {
        for name in ["inbox", "lists/rust", "a b/c-d", "Sent Items", "x1", "1a"] {
            assert!(FolderName::new(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn escaping_and_ambiguous_names_are_rejected() {
        let bad = [
            "",
            "/etc",
            "..",
            "a/../b",
            "a/./b",
            "a//b",
            "a/",
            "123",
            "a/42",
            ".hidden",
            ",3",
            "#5",
            "+inbox",
            "@rel",
            "tab\tname",
            "nul\0",
        ];
        for name in bad {
            assert!(FolderName::new(name).is_err(), "{name:?}");
        }
    }

    #[test]
    fn length_limits_are_enforced() {
        let component = "a".repeat(MAX_FOLDER_COMPONENT_LEN);
        assert!(FolderName::new(&component).is_ok());
        assert!(FolderName::new(&format!("{component}a")).is_err());
        let long = [component.as_str(); 5].join("/");
        assert!(long.len() > MAX_FOLDER_NAME_LEN);
        assert!(FolderName::new(&long).is_err());
    }

    #[test]
    fn parent_and_child() {
        let name = FolderName::new("a/b").unwrap();
        assert_eq!(name.parent(), Some(FolderName::new("a").unwrap()));
        assert_eq!(FolderName::new("a").unwrap().parent(), None);
        assert_eq!(name.child("c").unwrap().as_str(), "a/b/c");
        assert!(name.child("..").is_err());
    }
}
