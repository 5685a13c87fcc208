//! Writing a command's outputs as one transaction: every output is written in full to a
//! temporary file in its own folder and flushed to disk first; only when all of them are
//! written are they renamed into place, one after the other. A failure before the renames
//! leaves every previous output as it was and no temporary file behind; a failure between
//! two renames (rare: a rename within a folder fails only if the folder itself changes) is
//! reported naming the outputs that are new.
//!
//! Temporary files (see SECURITY.md):
//! - On Linux they are anonymous (`O_TMPFILE`): the data is written to a file with no name,
//!   which the kernel removes if the process dies, even by `kill -9`. Once every output is
//!   written, each gets a random name (`linkat`, which never replaces or follows anything
//!   already there) and is renamed over its output straight away. Only a process killed in
//!   the few system calls between the first link and the last rename can leave a named
//!   temporary file behind: POSIX has no call that puts a nameless file over an existing
//!   one, so replacing an output needs a name for a moment, and `kill -9` cannot be caught.
//! - Elsewhere, or on a file system without `O_TMPFILE`, they are created under a random
//!   name with `O_CREAT | O_EXCL` (which never follows a symbolic link planted there) and
//!   removed on every error path, panics included; a `kill -9` while writing leaves one.
//! - Names are `.lodestone-<machine>-<pid>-<16 hex digits>.tmp` whatever the output is
//!   called (at most 52 characters), so they fit wherever the output's own name does. The
//!   machine is the start of Linux's boot id, which changes at every boot.
//! - What a killed process leaves is removed by the next Lodestone run that writes to the
//!   same folder: before staging, it removes the temporary names of its own machine and boot
//!   whose process is no longer alive. A name of another machine (a shared drive), of an
//!   earlier boot or of a live process is left alone.
//!
//! An output that exists and is not a regular file (a symbolic link, a device, a FIFO, a
//! socket, a folder) is refused: Lodestone replaces outputs, it never writes through them.
//! An existing output's permission bits are kept.
//!
//! Owns writing outputs; the library's only code that creates or replaces files. Must not
//! build their contents.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why the outputs could not be written.
#[derive(Debug)]
pub enum OutputError {
    /// The output exists and is not a regular file; nothing was written.
    NotRegular { path: PathBuf, kind: &'static str },
    /// Writing failed before any output was replaced: every output is as it was.
    Unchanged {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Some outputs were renamed into place before one failed: they are new, the others
    /// are as they were.
    Partial {
        new: Vec<PathBuf>,
        path: PathBuf,
        error: std::io::Error,
    },
}

impl std::fmt::Display for OutputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutputError::NotRegular { path, kind } => write!(
                f,
                "{}: is {kind}, not a regular file; Lodestone replaces its outputs and does not write through links or devices (name a regular file)",
                path.display()
            ),
            OutputError::Unchanged { path, error } => write!(
                f,
                "{}: cannot write the file ({}); no output was changed",
                path.display(),
                io_reason(error)
            ),
            OutputError::Partial { new, path, error } => {
                let new: Vec<String> = new.iter().map(|p| p.display().to_string()).collect();
                write!(
                    f,
                    "{}: cannot put the file in place ({}); {} {} new, the other outputs are as they were",
                    path.display(),
                    io_reason(error),
                    new.join(", "),
                    if new.len() == 1 { "is" } else { "are" }
                )
            }
        }
    }
}

impl std::error::Error for OutputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OutputError::NotRegular { .. } => None,
            OutputError::Unchanged { error, .. } | OutputError::Partial { error, .. } => {
                Some(error)
            }
        }
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such folder".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

/// Refuses an output that exists and is not a regular file. Commands call it before any
/// work, so that a bad target is reported at once; `write_all` checks again.
pub fn check_target(path: &Path) -> Result<(), OutputError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) => match not_regular(&m.file_type()) {
            Some(kind) => Err(OutputError::NotRegular {
                path: path.to_path_buf(),
                kind,
            }),
            None => Ok(()),
        },
        Err(_) => Ok(()),
    }
}

fn not_regular(t: &std::fs::FileType) -> Option<&'static str> {
    if t.is_file() {
        return None;
    }
    if t.is_symlink() {
        return Some("a symbolic link");
    }
    if t.is_dir() {
        return Some("a folder");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_char_device() || t.is_block_device() {
            return Some("a device");
        }
        if t.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if t.is_socket() {
            return Some("a socket");
        }
    }
    Some("not a regular file")
}

/// Writes every (path, bytes) as one transaction (see the module header).
pub fn write_all(files: &[(&Path, &[u8])]) -> Result<(), OutputError> {
    let mut staged = Transaction::default();
    for (path, bytes) in files {
        staged.stage(path, bytes)?;
    }
    staged.commit()
}

/// One output written to its temporary file.
struct Staged {
    target: PathBuf,
    folder: PathBuf,
    file: File,
    /// The temporary file's name once it has one (a named temporary file from the start,
    /// an anonymous one once linked).
    name: Option<PathBuf>,
}

/// The outputs staged so far. Dropped before the commit ends (an error, a panic), it
/// removes every temporary name it made; anonymous files vanish with their descriptors.
#[derive(Default)]
struct Transaction {
    staged: Vec<Staged>,
    /// The folders already swept of what killed runs left there.
    swept: Vec<PathBuf>,
}

impl Drop for Transaction {
    fn drop(&mut self) {
        for s in &mut self.staged {
            if let Some(name) = s.name.take() {
                let _ = std::fs::remove_file(name);
            }
        }
    }
}

impl Transaction {
    fn stage(&mut self, path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
        let unchanged = |error| OutputError::Unchanged {
            path: path.to_path_buf(),
            error,
        };
        let existing = match std::fs::symlink_metadata(path) {
            Ok(m) => {
                if let Some(kind) = not_regular(&m.file_type()) {
                    return Err(OutputError::NotRegular {
                        path: path.to_path_buf(),
                        kind,
                    });
                }
                Some(m.permissions())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(unchanged(e)),
        };
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !self.swept.contains(&folder) {
            sweep(&folder);
            self.swept.push(folder.clone());
        }
        let (file, name) = temp_file(&folder).map_err(unchanged)?;
        // Recorded at once, so that the name is removed whatever fails next.
        self.staged.push(Staged {
            target: path.to_path_buf(),
            folder,
            file,
            name,
        });
        let Some(Staged { file, .. }) = self.staged.last_mut() else {
            return Ok(());
        };
        if let Some(permissions) = existing {
            file.set_permissions(permissions).map_err(unchanged)?;
        }
        file.write_all(bytes).map_err(unchanged)?;
        file.sync_all().map_err(unchanged)?;
        Ok(())
    }

    fn commit(mut self) -> Result<(), OutputError> {
        // Every file gets its name first, so that a failure here changes no output.
        for s in &mut self.staged {
            if s.name.is_none() {
                let name =
                    link_anonymous(&s.file, &s.folder).map_err(|error| OutputError::Unchanged {
                        path: s.target.clone(),
                        error,
                    })?;
                s.name = Some(name);
            }
        }
        let mut new = Vec::new();
        for s in &mut self.staged {
            let Some(name) = &s.name else { continue };
            if let Err(error) = std::fs::rename(name, &s.target) {
                let path = s.target.clone();
                return Err(if new.is_empty() {
                    OutputError::Unchanged { path, error }
                } else {
                    OutputError::Partial { new, path, error }
                });
            }
            s.name = None;
            new.push(s.target.clone());
        }
        // The renames themselves reach the disk with their folders.
        for s in &self.staged {
            if let Ok(dir) = File::open(&s.folder) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    }
}

/// A random temporary name in `folder`: `.lodestone-<machine>-<pid>-<16 hex>.tmp`. The key
/// comes from the operating system's randomness (std's hash keys); the name is only ever
/// created exclusively, so guessing it gains nothing but a retry. The machine and process
/// say whose it is, so that `sweep` can tell a killed run's leftovers from a live run's.
fn random_name(folder: &Path) -> PathBuf {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    let machine = machine_tag().unwrap_or("00000000");
    folder.join(format!(
        ".lodestone-{machine}-{}-{:016x}.tmp",
        std::process::id(),
        h.finish()
    ))
}

/// This machine and boot: the first 8 hex digits of Linux's boot id; `None` elsewhere,
/// where nothing is swept.
fn machine_tag() -> Option<&'static str> {
    static TAG: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    TAG.get_or_init(|| {
        let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        let tag: String = id.chars().take(8).collect();
        let hex = tag.len() == 8 && tag.chars().all(|c| c.is_ascii_hexdigit());
        (hex && tag != "00000000").then_some(tag)
    })
    .as_deref()
}

/// The process that made a temporary name, if the name is one of this machine and boot.
fn owner(name: &str, machine: &str) -> Option<u32> {
    let rest = name.strip_prefix(".lodestone-")?.strip_suffix(".tmp")?;
    let mut parts = rest.split('-');
    let (tag, pid, key) = (parts.next()?, parts.next()?, parts.next()?);
    let well_formed = parts.next().is_none()
        && key.len() == 16
        && key.chars().all(|c| c.is_ascii_hexdigit())
        && pid.chars().all(|c| c.is_ascii_digit());
    (well_formed && tag == machine).then(|| pid.parse().ok())?
}

/// Whether a process is alive (or its liveness cannot be told, which counts as alive).
#[cfg(unix)]
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return true;
    };
    // SAFETY: signal 0 only asks whether the process exists; nothing is sent.
    if pid <= 0 || unsafe { libc::kill(pid, 0) } == 0 {
        return true;
    }
    std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

#[cfg(not(unix))]
fn alive(_pid: u32) -> bool {
    true
}

/// Removes from `folder` the temporary names that runs on this machine and boot left when
/// they were killed between naming and renaming (their process is gone). Best effort: a
/// name that cannot be removed is left, and nothing else in the folder is touched.
fn sweep(folder: &Path) {
    let Some(machine) = machine_tag() else { return };
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| owner(n, machine)) else {
            continue;
        };
        if pid != std::process::id() && !alive(pid) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Attempts at a fresh random name before giving up (each fails only if the name exists).
const ATTEMPTS: usize = 32;

/// A temporary file in `folder`: anonymous where the system allows (no name), else created
/// exclusively under a random name (returned, to be removed or renamed).
fn temp_file(folder: &Path) -> std::io::Result<(File, Option<PathBuf>)> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new()
            .write(true)
            .mode(0o666)
            .custom_flags(libc::O_TMPFILE)
            .open(folder)
        {
            Ok(file) => return Ok((file, None)),
            // Not supported by this file system or kernel: fall back to a named file.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL)
                ) => {}
            Err(e) => return Err(e),
        }
    }
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let name = random_name(folder);
        match create_exclusive(&name) {
            Ok(file) => return Ok((file, Some(name))),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary name")))
}

/// Creates `name`, failing if anything is there (a file, or a symbolic link, which
/// `O_CREAT | O_EXCL` never follows).
fn create_exclusive(name: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o666).custom_flags(libc::O_NOFOLLOW);
    }
    options.open(name)
}

/// Gives an anonymous temporary file a fresh random name in its folder.
#[cfg(target_os = "linux")]
fn link_anonymous(file: &File, folder: &Path) -> std::io::Result<PathBuf> {
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let name = random_name(folder);
        match link_to(file, &name) {
            Ok(()) => return Ok(name),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary name")))
}

/// Links an anonymous file at `name`. `linkat` fails rather than replace or follow anything
/// already there, so a planted link is never used.
#[cfg(target_os = "linux")]
fn link_to(file: &File, name: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::io::AsRawFd;
    let fd = file.as_raw_fd();
    let proc_path = CString::new(format!("/proc/self/fd/{fd}"))
        .map_err(|_| std::io::Error::other("descriptor path"))?;
    let target = CString::new(name.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::other("a folder name with a NUL byte"))?;
    // SAFETY: both paths are valid NUL-terminated strings that outlive the call; the
    // descriptor is open for its duration.
    let linked = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            proc_path.as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    } == 0;
    if linked {
        return Ok(());
    }
    let error = std::io::Error::last_os_error();
    if error.kind() == std::io::ErrorKind::AlreadyExists {
        return Err(error);
    }
    // Without /proc: linking the descriptor itself (needs CAP_DAC_READ_SEARCH).
    let empty = CString::default();
    // SAFETY: as above.
    let linked = unsafe {
        libc::linkat(
            fd,
            empty.as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    } == 0;
    if linked {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn link_anonymous(_file: &File, _folder: &Path) -> std::io::Result<PathBuf> {
    // Never reached: only Linux makes anonymous temporary files.
    Err(std::io::Error::other(
        "anonymous temporary files are Linux-only",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("lodestone-output-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("folder");
        dir
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn all_outputs_are_written_and_no_temporary_file_is_left() {
        let dir = folder("all");
        let a = dir.join("a.xlsx");
        let b = dir.join("b.json");
        std::fs::write(&a, b"old a").expect("old");
        write_all(&[(&a, b"new a"), (&b, b"new b")]).expect("written");
        assert_eq!(std::fs::read(&a).expect("a"), b"new a");
        assert_eq!(std::fs::read(&b).expect("b"), b"new b");
        assert_eq!(names(&dir), ["a.xlsx", "b.json"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_failure_before_the_renames_changes_no_output() {
        let dir = folder("fail");
        let a = dir.join("a.xlsx");
        std::fs::write(&a, b"old a").expect("old");
        let bad = dir.join("missing").join("b.json");
        let e = write_all(&[(&a, b"new a"), (&bad, b"new b")]).expect_err("fails");
        assert!(matches!(e, OutputError::Unchanged { .. }), "{e}");
        assert!(e.to_string().contains("no output was changed"), "{e}");
        assert_eq!(std::fs::read(&a).expect("a"), b"old a");
        assert_eq!(names(&dir), ["a.xlsx"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_failure_between_the_renames_names_the_new_outputs() {
        let dir = folder("partial");
        let a = dir.join("a.xlsx");
        let b = dir.join("b.json");
        let mut t = Transaction::default();
        t.stage(&a, b"new a").expect("a");
        t.stage(&b, b"new b").expect("b");
        // The second output becomes a folder after it was checked: its rename fails.
        std::fs::create_dir(&b).expect("folder");
        std::fs::write(b.join("keep"), b"x").expect("non-empty");
        let e = t.commit().expect_err("fails");
        match &e {
            OutputError::Partial { new, path, .. } => {
                assert_eq!(new, &vec![a.clone()]);
                assert_eq!(path, &b);
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains("a.xlsx is new"), "{e}");
        assert_eq!(std::fs::read(&a).expect("a"), b"new a");
        assert_eq!(names(&dir), ["a.xlsx", "b.json"], "no temporary file left");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn links_and_devices_are_refused_and_permissions_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = folder("kinds");
        let target = dir.join("target.txt");
        std::fs::write(&target, b"keep").expect("target");
        let link = dir.join("link.json");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let e = write_all(&[(&link, b"x")]).expect_err("refused");
        assert!(e.to_string().contains("a symbolic link"), "{e}");
        assert_eq!(std::fs::read(&target).expect("target"), b"keep");
        let e = write_all(&[(Path::new("/dev/null"), b"x")]).expect_err("refused");
        assert!(e.to_string().contains("a device"), "{e}");

        let private = dir.join("private.json");
        std::fs::write(&private, b"old").expect("private");
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).expect("0600");
        write_all(&[(&private, b"new")]).expect("written");
        let mode = std::fs::metadata(&private)
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_link_planted_at_a_temporary_name_is_never_followed() {
        let dir = folder("planted");
        let victim = dir.join("victim.xlsx");
        std::fs::write(&victim, b"the input").expect("victim");
        let planted = dir.join(".lodestone-0123456789abcdef.tmp");
        std::os::unix::fs::symlink(&victim, &planted).expect("symlink");
        let e = create_exclusive(&planted).expect_err("refused");
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        #[cfg(target_os = "linux")]
        {
            let (mut file, name) = temp_file(&dir).expect("temp");
            assert!(name.is_none(), "anonymous on Linux");
            file.write_all(b"overwritten").expect("write");
            let e = link_to(&file, &planted).expect_err("refused");
            assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        }
        assert_eq!(std::fs::read(&victim).expect("victim"), b"the input");
        assert!(
            std::fs::symlink_metadata(&planted)
                .expect("still a link")
                .is_symlink()
        );
        assert_eq!(
            names(&dir),
            [".lodestone-0123456789abcdef.tmp", "victim.xlsx"]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn temporary_names_are_short_and_fresh() {
        let a = random_name(Path::new("."));
        let b = random_name(Path::new("."));
        assert_ne!(a, b);
        let name = a.file_name().expect("name").to_string_lossy().into_owned();
        assert!(name.len() <= 52, "{name}");
        assert_eq!(
            owner(&name, machine_tag().unwrap_or("00000000")),
            Some(std::process::id()),
            "{name}"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_next_run_sweeps_what_a_killed_run_left_and_nothing_else() {
        let dir = folder("sweep");
        let machine = machine_tag().expect("a boot id");
        // A process that has ended: its pid is free (until reused, when it is kept).
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let dead = child.id();
        child.wait().expect("ended");
        let killed = format!(".lodestone-{machine}-{dead}-0123456789abcdef.tmp");
        let live = format!(".lodestone-{machine}-1-0123456789abcdef.tmp");
        let stranger = if machine == "fedcba98" {
            "fedcba99"
        } else {
            "fedcba98"
        };
        let other_machine = format!(".lodestone-{stranger}-{dead}-0123456789abcdef.tmp");
        let odd = format!(".lodestone-{machine}-{dead}-xyz.tmp");
        for n in [
            &killed,
            &live,
            &other_machine,
            &odd,
            &"notes.txt".to_string(),
        ] {
            std::fs::write(dir.join(n), b"x").expect("planted");
        }
        write_all(&[(&dir.join("out.json"), b"new")]).expect("written");
        let mut expected = vec![
            live,
            other_machine,
            odd,
            "notes.txt".into(),
            "out.json".into(),
        ];
        if alive(dead) {
            expected.push(killed); // its pid was reused at once: kept, as it must be
        }
        expected.sort();
        assert_eq!(names(&dir), expected);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
