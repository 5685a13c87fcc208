//! Whatever the file holds, reading it never panics: truncated workbooks, random bytes,
//! zips that are not workbooks, workbooks with damaged parts. A file that is not a
//! workbook at all is reported in one line.

mod common;

use common::{TempDir, Xlsx};
use lodestone::examples::EXAMPLES;
use lodestone::excel::read::read_deal;

/// A small deterministic generator, so that failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u8 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u8
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next()).collect()
    }
}

fn assert_one_line(case: &str, dir: &TempDir, name: &str, bytes: &[u8]) {
    let path = dir.write(name, bytes);
    match read_deal(&path) {
        Ok(_) => panic!("case {case}: read as a valid deal"),
        Err(e) => {
            assert_eq!(
                e.errors.len(),
                1,
                "case {case}: expected one line, got\n{e}"
            );
            assert!(e.errors[0].cell.is_none(), "case {case}: {e}");
            assert!(!e.to_string().contains('\n'), "case {case}: {e}");
            assert!(
                e.to_string().starts_with(&format!("{}: ", path.display())),
                "case {case}: {e}"
            );
        }
    }
}

#[test]
fn truncated_workbooks_say_so_in_one_line() {
    let dir = TempDir::new("truncated");
    for name in EXAMPLES {
        let bytes = common::example_bytes(name);
        let mut cut = 1;
        while cut < bytes.len() {
            let case = format!("{name} cut to {cut} of {} bytes", bytes.len());
            assert_one_line(&case, &dir, &format!("{name}-{cut}.xlsx"), &bytes[..cut]);
            cut = cut * 3 / 2 + 7;
        }
    }
}

#[test]
fn random_bytes_say_so_in_one_line() {
    let dir = TempDir::new("random");
    let mut rng = Lcg(42);
    for (i, len) in [1usize, 2, 7, 100, 4096, 65536].into_iter().enumerate() {
        for ext in ["xlsx", "xls", "ods", "xlsm", "bin"] {
            let bytes = rng.bytes(len);
            assert_one_line(
                &format!("{len} random bytes as .{ext}"),
                &dir,
                &format!("r{i}.{ext}"),
                &bytes,
            );
        }
    }
    // Plausible headers followed by junk.
    for (case, head) in [
        ("zip header", b"PK\x03\x04".as_slice()),
        ("OLE header", b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".as_slice()),
        ("text", b"Deal name,NdPr\n".as_slice()),
    ] {
        let mut bytes = head.to_vec();
        bytes.extend(rng.bytes(3000));
        assert_one_line(case, &dir, "junk.xlsx", &bytes);
    }
}

#[test]
fn zips_that_are_not_workbooks_never_panic() {
    let dir = TempDir::new("zips");
    let original = Xlsx::open(&common::example_bytes("ndpr-joint-facility"));
    let mut rng = Lcg(7);
    // Every part in turn replaced by junk, emptied, or cut in half.
    let names: Vec<String> = original_parts(&original);
    for part in &names {
        for (how, text) in [
            ("emptied", String::new()),
            (
                "junk",
                String::from_utf8_lossy(&rng.bytes(200)).into_owned(),
            ),
            ("halved", {
                let t = original.part(part);
                t[..t.len() / 2].to_string()
            }),
        ] {
            let mut x = Xlsx::open(&original.bytes());
            x.set_part(part, text);
            let path = dir.write("zip.xlsx", &x.bytes());
            let case = format!("{part} {how}");
            // Any answer will do, so long as it is an answer.
            if let Err(e) = read_deal(&path) {
                assert!(
                    !e.errors.is_empty(),
                    "case {case}: an error without problems"
                );
            }
        }
    }
}

fn original_parts(x: &Xlsx) -> Vec<String> {
    let mut names = vec![
        "[Content_Types].xml".to_string(),
        "xl/workbook.xml".to_string(),
        "xl/_rels/workbook.xml.rels".to_string(),
        "xl/sharedStrings.xml".to_string(),
        "xl/styles.xml".to_string(),
    ];
    for sheet in ["Deal", "Facilities", "Prices", "Financing", "Participants"] {
        names.push(x.sheet_part(sheet));
    }
    names
}

#[test]
fn missing_and_odd_paths_say_so_in_one_line() {
    let dir = TempDir::new("paths");
    for (case, path) in [
        ("no such file", dir.path().join("nowhere.xlsx")),
        ("a folder", dir.path().to_path_buf()),
    ] {
        match read_deal(&path) {
            Ok(_) => panic!("case {case}: read"),
            Err(e) => {
                assert_eq!(e.errors.len(), 1, "case {case}: {e}");
                assert!(!e.to_string().contains('\n'), "case {case}: {e}");
            }
        }
    }
}
