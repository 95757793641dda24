//! The guest kernel: Debian's stock kernel image package (the one `linux-image-amd64`
//! depends on), fetched with `apt-get download` and unpacked into the cache, never
//! installed. Only `vmlinuz` and the modules the tests need (with their dependencies,
//! read from each `.ko`'s `depends=` field: the package has no modules.dep and the host
//! may have no depmod) are kept, in load order.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::sh;

/// Modules the VM lane loads (their dependencies are added).
pub const WANTED: &[&str] = &[
    "veth",
    "dummy",
    "bridge",
    "8021q",
    "ipvlan",
    "macvlan",
    // The system container's disk: a virtio block device with an ext4 root filesystem.
    "virtio_pci",
    "virtio_blk",
    "crc32c_generic",
    "ext4",
];

/// A kernel ready to boot.
#[derive(Debug)]
pub struct Kernel {
    /// The image package's name (`linux-image-6.1.0-48-amd64`).
    pub package: String,
    /// The kernel image.
    pub vmlinuz: PathBuf,
    /// Modules in the order to insmod them.
    pub modules: Vec<PathBuf>,
    /// The kernel's build configuration (`/boot/config-*`), for `cgctl check` inside.
    pub config: PathBuf,
    /// The release string (`6.1.0-48-amd64`).
    pub release: String,
}

/// The image package `linux-image-amd64` depends on.
fn image_package() -> Result<String> {
    let out = Command::new("apt-cache")
        .args(["depends", "linux-image-amd64"])
        .output()
        .context("cannot run apt-cache")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix("Depends: ").map(str::to_owned))
        .filter(|p| p.starts_with("linux-image-"))
        .context("apt-cache depends linux-image-amd64 names no kernel image package")
}

/// The `depends=` modinfo field of a `.ko`.
pub fn module_depends(ko: &[u8]) -> Vec<String> {
    let key = b"\0depends=";
    let Some(at) = ko.windows(key.len()).position(|w| w == key) else {
        return Vec::new();
    };
    let rest = &ko[at + key.len()..];
    let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    String::from_utf8_lossy(&rest[..end])
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.replace('-', "_"))
        .collect()
}

fn index_modules(dir: &Path, into: &mut BTreeMap<String, PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            index_modules(&path, into)?;
        } else if let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".ko"))
        {
            into.insert(name.replace('-', "_"), path);
        }
    }
    Ok(())
}

/// Load order for `wanted`: each module after its dependencies.
pub fn load_order(
    wanted: &[&str],
    deps: &dyn Fn(&str) -> Result<Vec<String>>,
) -> Result<Vec<String>> {
    fn visit(
        m: &str,
        deps: &dyn Fn(&str) -> Result<Vec<String>>,
        done: &mut BTreeSet<String>,
        order: &mut Vec<String>,
        depth: u32,
    ) -> Result<()> {
        if depth > 32 {
            bail!("module dependency cycle at {m}");
        }
        if done.contains(m) {
            return Ok(());
        }
        for d in deps(m)? {
            visit(&d, deps, done, order, depth + 1)?;
        }
        if done.insert(m.to_owned()) {
            order.push(m.to_owned());
        }
        Ok(())
    }
    let mut done = BTreeSet::new();
    let mut order = Vec::new();
    for m in wanted {
        visit(&m.replace('-', "_"), deps, &mut done, &mut order, 0)?;
    }
    Ok(order)
}

/// Fetch and prune the kernel once; later calls read the cache.
pub fn ensure(cache: &Path) -> Result<Kernel> {
    let package = image_package()?;
    let dir = cache.join(&package);
    let order_file = dir.join("modules.order");
    // A cache made for a shorter list of modules is made again.
    let complete = fs::read_to_string(&order_file).is_ok_and(|o| {
        let have: BTreeSet<&str> = o.lines().collect();
        WANTED
            .iter()
            .all(|w| have.contains(w.replace('-', "_").as_str()))
    });
    if !complete || !dir.join("config").is_file() {
        let work = cache.join("download");
        let _ = fs::remove_dir_all(&work);
        fs::create_dir_all(&work)?;
        eprintln!(
            "xtask: fetching {package} (once; cached in {})",
            dir.display()
        );
        sh(Command::new("apt-get")
            .args(["download", "-q", &package])
            .current_dir(&work))?;
        let deb = fs::read_dir(&work)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "deb"))
            .context("apt-get download left no .deb")?;
        let tree = work.join("tree");
        sh(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tree))?;
        let boot = fs::read_dir(tree.join("boot"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
            })
            .context("the kernel package has no boot/vmlinuz-*")?;
        let mut index = BTreeMap::new();
        index_modules(&tree.join("lib/modules"), &mut index)?;
        let deps = |m: &str| -> Result<Vec<String>> {
            let path = index
                .get(m)
                .with_context(|| format!("module {m} not in {package}"))?;
            Ok(module_depends(&fs::read(path)?))
        };
        let order = load_order(WANTED, &deps)?;
        let staging = cache.join(format!("{package}.new"));
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir_all(&staging)?;
        fs::copy(&boot, staging.join("vmlinuz"))?;
        let release = boot
            .file_name()
            .context("name")?
            .to_string_lossy()
            .trim_start_matches("vmlinuz-")
            .to_owned();
        fs::copy(
            tree.join(format!("boot/config-{release}")),
            staging.join("config"),
        )?;
        fs::write(staging.join("release"), &release)?;
        for m in &order {
            fs::copy(&index[m], staging.join(format!("{m}.ko")))?;
        }
        fs::write(staging.join("modules.order"), order.join("\n") + "\n")?;
        let _ = fs::remove_dir_all(&dir);
        fs::rename(&staging, &dir)?;
        fs::remove_dir_all(&work)?;
    }
    let modules = fs::read_to_string(&order_file)?
        .lines()
        .map(|m| dir.join(format!("{m}.ko")))
        .collect();
    let release = fs::read_to_string(dir.join("release"))?.trim().to_owned();
    Ok(Kernel {
        vmlinuz: dir.join("vmlinuz"),
        modules,
        config: dir.join("config"),
        release,
        package,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depends_field() {
        let ko = b"\x7fELF....\0license=GPL\0depends=mrp,garp\0vermagic=6.1\0";
        assert_eq!(module_depends(ko), vec!["mrp", "garp"]);
        assert!(module_depends(b"\0depends=\0").is_empty());
        assert!(module_depends(b"nothing").is_empty());
    }

    #[test]
    fn dependencies_load_first() {
        let table: BTreeMap<&str, Vec<String>> = [
            ("8021q", vec!["mrp".to_owned(), "garp".to_owned()]),
            ("garp", vec!["stp".to_owned(), "llc".to_owned()]),
            ("stp", vec!["llc".to_owned()]),
            ("mrp", vec![]),
            ("llc", vec![]),
            ("veth", vec![]),
        ]
        .into_iter()
        .collect();
        let deps = |m: &str| Ok(table[m].clone());
        let order = load_order(&["veth", "8021q"], &deps).unwrap();
        assert_eq!(order, ["veth", "mrp", "llc", "stp", "garp", "8021q"]);
    }
}
