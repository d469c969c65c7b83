//! The newest glibc symbol version an executable needs, read from its ELF
//! version-needs table, so `photosync package` can refuse a binary the
//! Functions hosts cannot start.
//!
//! A dynamically linked ELF names every versioned library symbol it needs
//! in the `.gnu.version_r` section (`SHT_GNU_verneed`): one `Elf64_Verneed`
//! per library, each with a chain of `Elf64_Vernaux` entries whose names
//! (`GLIBC_2.34`, …) are offsets into the linked string table (`.dynstr`).
//! Layouts from the System V gABI (ELF header, section headers) and the
//! Linux Standard Base Core spec, "Symbol Versioning"
//! (https://refspecs.linuxfoundation.org/LSB_5.0.0/LSB-Core-generic/LSB-Core-generic/symversion.html).
//! This is what `objdump -T` / `readelf -V` print, read without either.

/// `e_ident` magic.
const MAGIC: &[u8] = b"\x7fELF";
/// `EI_CLASS` value for 64-bit objects.
const CLASS_64: u8 = 2;
/// `EI_DATA` value for little-endian objects.
const DATA_LE: u8 = 1;
/// `sh_type` of the version-needs section.
const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;
/// Bound on table walks, so a crafted file cannot loop forever.
const MAX_ENTRIES: usize = 100_000;

/// A glibc symbol version, `GLIBC_{major}.{minor}[.{patch}]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GlibcVersion(pub u32, pub u32, pub u32);

impl GlibcVersion {
    /// Parses the part after `GLIBC_` (`2.34`, `2.2.5`); `None` for
    /// `GLIBC_PRIVATE` and anything else that is not a version.
    fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('.').map(|p| p.parse::<u32>().ok());
        let major = parts.next()??;
        let minor = parts.next()??;
        let patch = parts.next().unwrap_or(Some(0))?;
        parts.next().is_none().then_some(Self(major, minor, patch))
    }
}

impl std::fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.2 {
            0 => write!(f, "{}.{}", self.0, self.1),
            patch => write!(f, "{}.{}.{patch}", self.0, self.1),
        }
    }
}

/// What the file turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Requirement {
    /// Not an ELF file (a script, say): no glibc requirement to read.
    NotElf,
    /// An ELF file; the newest `GLIBC_x.y` it needs, `None` when it needs
    /// none (statically linked).
    Elf(Option<GlibcVersion>),
}

/// Reads the newest glibc version `bytes` (a whole executable) needs.
/// A damaged or truncated ELF is an error naming what is wrong, never a panic.
pub fn glibc_requirement(bytes: &[u8]) -> Result<Requirement, String> {
    if !bytes.starts_with(MAGIC) {
        return Ok(Requirement::NotElf);
    }
    let at = |offset: usize, len: usize| -> Result<&[u8], String> {
        offset
            .checked_add(len)
            .and_then(|end| bytes.get(offset..end))
            .ok_or_else(|| format!("the ELF file is truncated (needs bytes {offset}..+{len})"))
    };
    let u16_at = |o| at(o, 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o| at(o, 4).map(|b| u32::from_le_bytes(b.try_into().unwrap()));
    let u64_at = |o| at(o, 8).map(|b| u64::from_le_bytes(b.try_into().unwrap()));
    let size = |v: u64| usize::try_from(v).map_err(|_| "an ELF offset is out of range".to_owned());

    let ident = at(0, 16)?;
    if ident[4] != CLASS_64 || ident[5] != DATA_LE {
        return Err("not a 64-bit little-endian ELF file (the Functions hosts run x86-64)".into());
    }
    // Elf64_Ehdr: e_shoff at 0x28, e_shentsize 0x3a, e_shnum 0x3c.
    let shoff = size(u64_at(0x28)?)?;
    let shentsize = usize::from(u16_at(0x3a)?);
    let shnum = usize::from(u16_at(0x3c)?);
    if shnum == 0 {
        return Err(
            "the ELF file has no section headers, so its glibc needs cannot be read".into(),
        );
    }
    if shentsize < 64 {
        return Err(format!(
            "ELF section headers of {shentsize} bytes (expected 64)"
        ));
    }
    // Elf64_Shdr: sh_type +4, sh_offset +0x18, sh_size +0x20, sh_link +0x28, sh_info +0x2c.
    let header = |i: usize| shoff.checked_add(i.checked_mul(shentsize)?);
    let mut newest = None;
    for i in 0..shnum {
        let base = header(i).ok_or("ELF section headers out of range")?;
        if u32_at(base + 4)? != SHT_GNU_VERNEED {
            continue;
        }
        let offset = size(u64_at(base + 0x18)?)?;
        let link = u32_at(base + 0x28)? as usize;
        let count = u32_at(base + 0x2c)? as usize;
        if link >= shnum {
            return Err("the ELF version-needs section links to no string table".into());
        }
        let strings_base = header(link).ok_or("ELF section headers out of range")?;
        let strings = size(u64_at(strings_base + 0x18)?)?;
        let strings_size = size(u64_at(strings_base + 0x20)?)?;
        let name = |offset: u32| -> Result<&str, String> {
            let offset = offset as usize;
            if offset >= strings_size {
                return Err("an ELF version name lies outside its string table".into());
            }
            let start = strings
                .checked_add(offset)
                .ok_or("ELF string out of range")?;
            let tail = bytes.get(start..).ok_or("the ELF file is truncated")?;
            let end = tail
                .iter()
                .position(|b| *b == 0)
                .ok_or("unterminated ELF string")?;
            std::str::from_utf8(&tail[..end]).map_err(|_| "an ELF version name is not text".into())
        };
        // Elf64_Verneed: vn_cnt +2, vn_aux +8, vn_next +12.
        // Elf64_Vernaux: vna_name +8, vna_next +12.
        let mut need = offset;
        for _ in 0..count.min(MAX_ENTRIES) {
            let aux_count = usize::from(u16_at(need + 2)?);
            let mut aux = need
                .checked_add(u32_at(need + 8)? as usize)
                .ok_or("ELF version entry out of range")?;
            for _ in 0..aux_count.min(MAX_ENTRIES) {
                if let Some(version) = name(u32_at(aux + 8)?)?
                    .strip_prefix("GLIBC_")
                    .and_then(GlibcVersion::parse)
                {
                    newest = newest.max(Some(version));
                }
                match u32_at(aux + 12)? {
                    0 => break,
                    next => {
                        aux = aux
                            .checked_add(next as usize)
                            .ok_or("ELF entry out of range")?
                    }
                }
            }
            match u32_at(need + 12)? {
                0 => break,
                next => {
                    need = need
                        .checked_add(next as usize)
                        .ok_or("ELF entry out of range")?
                }
            }
        }
    }
    Ok(Requirement::Elf(newest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_order_like_glibc_releases() {
        assert_eq!(GlibcVersion::parse("2.2.5"), Some(GlibcVersion(2, 2, 5)));
        assert_eq!(GlibcVersion::parse("2.34"), Some(GlibcVersion(2, 34, 0)));
        assert_eq!(GlibcVersion::parse("PRIVATE"), None);
        assert_eq!(GlibcVersion::parse("2"), None);
        assert!(GlibcVersion(2, 34, 0) > GlibcVersion(2, 31, 0));
        assert!(GlibcVersion(2, 31, 0) > GlibcVersion(2, 2, 5));
        assert_eq!(GlibcVersion(2, 2, 5).to_string(), "2.2.5");
        assert_eq!(GlibcVersion(2, 31, 0).to_string(), "2.31");
    }

    #[test]
    fn this_test_binary_needs_what_objdump_says() {
        // The test executable is linked like photosync itself, against this
        // machine's glibc: it needs at least GLIBC_2.2.5 (x86-64's first).
        let bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        match glibc_requirement(&bytes) {
            Ok(Requirement::Elf(Some(v))) => assert!(v >= GlibcVersion(2, 2, 5), "{v}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn scripts_are_not_elf_and_damaged_files_are_errors_not_panics() {
        assert_eq!(glibc_requirement(b"#!/bin/sh\n"), Ok(Requirement::NotElf));
        assert_eq!(glibc_requirement(b""), Ok(Requirement::NotElf));
        let bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        for cut in [4, 20, 0x40, 4096] {
            assert!(glibc_requirement(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut wrong_class = bytes[..64].to_vec();
        wrong_class[4] = 1;
        assert!(
            glibc_requirement(&wrong_class)
                .unwrap_err()
                .contains("64-bit")
        );
    }
}
