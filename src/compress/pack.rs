//! Where the local cache keeps its entries: in packs, a few large files rather than a file per
//! entry. A build appends the entries it makes to one temporary file and, when it ends, writes
//! that file's index and gives it a name no pack has yet (`<hex>.pack`): one file created per
//! build instead of thousands, which on a cold build of a large site was a third of its system
//! time.
//! Entries are read with one positioned read each. Past [`MAX_PACKS`] packs, a build merges
//! them into one.
//!
//! A pack is its entries, then their index (for each, the key in 64 hex digits, the offset and
//! the length), then a footer: [`MAGIC`], the index's offset, its entry count and its sha256.
//! A pack whose footer or index does not check out is ignored; an entry is verified by the
//! cache (its own sha256) before it is used. Packs are never changed once named, only deleted
//! by a merge, so a build reading them while another merges reads what it opened.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use sha2::{Digest, Sha256};

const MAGIC: &[u8; 8] = b"stplpak1";
const FOOTER: usize = 8 + 8 + 8 + 32;
const KEY: usize = 64;
const INDEX_ENTRY: usize = KEY + 8 + 4;
/// More packs than this and the build that sees them merges them into one.
pub const MAX_PACKS: usize = 8;

/// The packs of one cache folder, and the pack this build is writing.
pub struct Packs {
    dir: PathBuf,
    sealed: OnceLock<Sealed>,
    writing: Mutex<Option<Writer>>,
}

/// The packs that existed when first needed, opened, with every key they hold.
#[derive(Default)]
struct Sealed {
    files: Vec<(PathBuf, File)>,
    index: HashMap<String, Location>,
}

#[derive(Clone, Copy)]
struct Location {
    pack: usize,
    offset: u64,
    length: u32,
}

/// This build's pack, until it is sealed.
struct Writer {
    file: tempfile::NamedTempFile,
    length: u64,
    index: Vec<(String, u64, u32)>,
    keys: HashMap<String, (u64, u32)>,
}

impl Packs {
    pub fn new(dir: &Path) -> Self {
        Packs {
            dir: dir.to_path_buf(),
            sealed: OnceLock::new(),
            writing: Mutex::new(None),
        }
    }

    fn sealed(&self) -> &Sealed {
        self.sealed.get_or_init(|| Sealed::open(&self.dir))
    }

    /// The stored entry for `key`, unverified: from a sealed pack, or written earlier in this
    /// build.
    pub fn read(&self, key: &str) -> Option<Vec<u8>> {
        let sealed = self.sealed();
        if let Some(at) = sealed.index.get(key) {
            return read_at(&sealed.files.get(at.pack)?.1, at.offset, at.length);
        }
        let writing = self.writing.lock().ok()?;
        let writer = writing.as_ref()?;
        let (offset, length) = *writer.keys.get(key)?;
        read_at(writer.file.as_file(), offset, length)
    }

    /// Adds an entry to this build's pack. The cache writes only what it could not read, so a
    /// key already in a sealed pack is written again when its entry there is damaged, and the
    /// newer entry wins. The cache is an optimisation: a failure to write only costs a later
    /// miss, and stops this build's writes.
    pub fn write(&self, key: &str, entry: &[u8]) {
        if key.len() != KEY {
            return;
        }
        let Ok(mut writing) = self.writing.lock() else {
            return;
        };
        if writing.is_none() {
            *writing = Writer::create(&self.dir);
        }
        let Some(writer) = writing.as_mut() else {
            return;
        };
        if writer.keys.contains_key(key) {
            return;
        }
        let Ok(length) = u32::try_from(entry.len()) else {
            return;
        };
        if writer.file.write_all(entry).is_err() {
            *writing = None;
            return;
        }
        writer.keys.insert(key.to_string(), (writer.length, length));
        writer.index.push((key.to_string(), writer.length, length));
        writer.length += u64::from(length);
    }

    /// Names this build's pack, so later builds find its entries, and merges the packs if
    /// there are too many. Calling it again does nothing.
    pub fn seal(&self) {
        let writer = self.writing.lock().ok().and_then(|mut w| w.take());
        let Some(writer) = writer else { return };
        let _ = writer.finish(&self.dir);
        let packs = pack_files(&self.dir);
        if packs.len() > MAX_PACKS {
            merge(&self.dir, &packs);
        }
    }
}

impl Drop for Packs {
    /// A build that stopped early still keeps what it wrote.
    fn drop(&mut self) {
        self.seal();
    }
}

impl Sealed {
    fn open(dir: &Path) -> Sealed {
        let mut sealed = Sealed::default();
        for path in pack_files(dir) {
            let Ok(file) = File::open(&path) else {
                continue;
            };
            let Some(index) = read_index(&file) else {
                continue;
            };
            // Packs come oldest first: a newer entry for a key replaces an older one.
            let pack = sealed.files.len();
            for (key, offset, length) in index {
                sealed.index.insert(
                    key,
                    Location {
                        pack,
                        offset,
                        length,
                    },
                );
            }
            sealed.files.push((path, file));
        }
        sealed
    }
}

impl Writer {
    fn create(dir: &Path) -> Option<Writer> {
        std::fs::create_dir_all(dir).ok()?;
        let file = tempfile::Builder::new()
            .prefix(crate::output::TEMPORARY_PREFIX)
            .suffix(crate::output::TEMPORARY_SUFFIX)
            .tempfile_in(dir)
            .ok()?;
        Some(Writer {
            file,
            length: 0,
            index: Vec::new(),
            keys: HashMap::new(),
        })
    }

    /// Writes the index and footer and gives the pack its name.
    fn finish(mut self, dir: &Path) -> Option<()> {
        let mut index = Vec::with_capacity(self.index.len() * INDEX_ENTRY);
        for (key, offset, length) in &self.index {
            index.extend_from_slice(key.as_bytes());
            index.extend_from_slice(&offset.to_le_bytes());
            index.extend_from_slice(&length.to_le_bytes());
        }
        let digest = Sha256::digest(&index);
        let mut footer = Vec::with_capacity(FOOTER);
        footer.extend_from_slice(MAGIC);
        footer.extend_from_slice(&self.length.to_le_bytes());
        footer.extend_from_slice(&(self.index.len() as u64).to_le_bytes());
        footer.extend_from_slice(&digest);
        self.file.write_all(&index).ok()?;
        self.file.write_all(&footer).ok()?;
        // A name no other pack has (never derived from the index alone: two builds can write
        // the same keys with different entries), and never written over one.
        let mut naming = Sha256::new();
        naming.update(digest);
        naming.update(nanos_now().to_le_bytes());
        naming.update(std::process::id().to_le_bytes());
        let name = format!("{}.pack", &hex::encode(naming.finalize())[..24]);
        self.file.persist_noclobber(dir.join(name)).ok()?;
        Some(())
    }
}

fn nanos_now() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos())
}

/// The packs in `dir`, oldest first.
fn pack_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut packs: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".pack"))
        .filter_map(|entry| {
            let modified = entry.metadata().ok()?.modified().ok()?;
            Some((modified, entry.path()))
        })
        .collect();
    packs.sort();
    packs.into_iter().map(|(_, path)| path).collect()
}

/// The index of an intact pack.
fn read_index(file: &File) -> Option<Vec<(String, u64, u32)>> {
    let size = file.metadata().ok()?.len();
    let footer = read_at(file, size.checked_sub(FOOTER as u64)?, FOOTER as u32)?;
    if &footer[..8] != MAGIC {
        return None;
    }
    let number = |at: usize| {
        footer
            .get(at..at + 8)?
            .try_into()
            .ok()
            .map(u64::from_le_bytes)
    };
    let (start, count) = (number(8)?, number(16)?);
    let length = count.checked_mul(INDEX_ENTRY as u64)?;
    if start.checked_add(length)? != size - FOOTER as u64 {
        return None;
    }
    let index = read_at(file, start, u32::try_from(length).ok()?)?;
    if Sha256::digest(&index).as_slice() != &footer[24..] {
        return None;
    }
    index
        .chunks_exact(INDEX_ENTRY)
        .map(|entry| {
            let key = std::str::from_utf8(&entry[..KEY]).ok()?.to_string();
            let offset = u64::from_le_bytes(entry[KEY..KEY + 8].try_into().ok()?);
            let length = u32::from_le_bytes(entry[KEY + 8..].try_into().ok()?);
            (offset.checked_add(u64::from(length))? <= start).then_some((key, offset, length))
        })
        .collect()
}

fn read_at(file: &File, offset: u64, length: u32) -> Option<Vec<u8>> {
    let mut buffer = vec![0; length as usize];
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        file.read_exact_at(&mut buffer, offset).ok()?;
    }
    #[cfg(not(unix))]
    {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = file;
        file.seek(SeekFrom::Start(offset)).ok()?;
        file.read_exact(&mut buffer).ok()?;
    }
    Some(buffer)
}

/// Copies every entry of `packs` into one new pack, then deletes them. Another build merging
/// at the same time costs a duplicate pack, never an entry.
fn merge(dir: &Path, packs: &[PathBuf]) {
    let Some(mut writer) = Writer::create(dir) else {
        return;
    };
    let mut merged = Vec::new();
    // Newest first, so the newest entry for a key is the one kept.
    for path in packs.iter().rev() {
        let Ok(file) = File::open(path) else { continue };
        let Some(index) = read_index(&file) else {
            merged.push(path);
            continue;
        };
        for (key, offset, length) in index {
            if writer.keys.contains_key(&key) {
                continue;
            }
            let Some(entry) = read_at(&file, offset, length) else {
                continue;
            };
            if writer.file.write_all(&entry).is_err() {
                return;
            }
            writer.keys.insert(key.clone(), (writer.length, length));
            writer.index.push((key, writer.length, length));
            writer.length += u64::from(length);
        }
        merged.push(path);
    }
    if writer.finish(dir).is_some() {
        for path in merged {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> String {
        hex::encode([n; 32])
    }

    #[test]
    fn entries_written_by_one_build_are_read_by_the_next_and_by_itself() {
        let dir = tempfile::tempdir().expect("tempdir");
        let packs = Packs::new(dir.path());
        packs.write(&key(1), b"one");
        assert_eq!(packs.read(&key(1)).as_deref(), Some(&b"one"[..]));
        packs.seal();
        packs.seal();
        assert_eq!(pack_files(dir.path()).len(), 1);
        let later = Packs::new(dir.path());
        assert_eq!(later.read(&key(1)).as_deref(), Some(&b"one"[..]));
        assert_eq!(later.read(&key(2)), None);
    }

    #[test]
    fn a_key_written_again_is_read_from_the_newer_pack_and_kept_by_a_merge() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = Packs::new(dir.path());
        first.write(&key(1), b"damaged");
        first.seal();
        // Packs are ordered by modification time: make the first one clearly older.
        let past = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        let old = &pack_files(dir.path())[0];
        std::fs::File::options()
            .write(true)
            .open(old)
            .and_then(|file| file.set_modified(past))
            .expect("date the first pack");
        let second = Packs::new(dir.path());
        second.write(&key(1), b"rebuilt");
        second.seal();
        assert_eq!(
            Packs::new(dir.path()).read(&key(1)).as_deref(),
            Some(&b"rebuilt"[..])
        );
        merge(dir.path(), &pack_files(dir.path()));
        assert_eq!(pack_files(dir.path()).len(), 1);
        assert_eq!(
            Packs::new(dir.path()).read(&key(1)).as_deref(),
            Some(&b"rebuilt"[..])
        );
    }

    #[test]
    fn a_damaged_pack_is_ignored_and_many_packs_are_merged() {
        let dir = tempfile::tempdir().expect("tempdir");
        for n in 0..=MAX_PACKS as u8 {
            let packs = Packs::new(dir.path());
            packs.write(&key(n), &[n; 10]);
            packs.seal();
        }
        assert_eq!(pack_files(dir.path()).len(), 1, "merged");
        let packs = Packs::new(dir.path());
        for n in 0..=MAX_PACKS as u8 {
            assert_eq!(packs.read(&key(n)), Some(vec![n; 10]));
        }
        let pack = &pack_files(dir.path())[0];
        let bytes = std::fs::read(pack).expect("pack");
        std::fs::write(pack, &bytes[..bytes.len() - 1]).expect("truncate");
        assert_eq!(Packs::new(dir.path()).read(&key(0)), None);
        let mut flipped = bytes.clone();
        flipped[bytes.len() - FOOTER - 3] ^= 1;
        std::fs::write(pack, &flipped).expect("corrupt the index");
        assert_eq!(Packs::new(dir.path()).read(&key(0)), None);
    }
}
