//! Every numeric input cell of every example, replaced in turn by text, gives exactly one
//! error, naming that exact cell (and nothing panics).

mod common;

use common::{Patch, TempDir, Xlsx};
use lodestone::examples::EXAMPLES;
use lodestone::excel::read::read_deal;
use lodestone::excel::schema::SHEETS;

#[test]
fn every_numeric_cell_replaced_by_text_is_named() {
    let dir = TempDir::new("every-cell");
    let mut checked = 0;
    for name in EXAMPLES {
        let before = checked;
        let original = Xlsx::open(&common::example_bytes(name));
        for sheet in SHEETS {
            for cell in original.numeric_cells(sheet.name) {
                let a1 = cell.a1();
                let mut xlsx = Xlsx::open(&original.bytes());
                xlsx.set_cell(sheet.name, &a1, Patch::Text("twelve"));
                let path = dir.write(&format!("{name}-{}-{a1}.xlsx", sheet.name), &xlsx.bytes());
                let case = format!("{name}: {cell}");
                match read_deal(&path) {
                    Ok(_) => panic!("case {case}: text in a numeric cell was accepted"),
                    Err(e) => {
                        assert_eq!(
                            e.errors.len(),
                            1,
                            "case {case}: expected one error, got\n{e}"
                        );
                        let error = &e.errors[0];
                        assert_eq!(error.cell.as_ref(), Some(&cell), "case {case}: {error}");
                        assert!(
                            error.message.contains("(found text \"twelve\", expected "),
                            "case {case}: {error}"
                        );
                    }
                }
                let _ = std::fs::remove_file(&path);
                checked += 1;
            }
        }
        println!("{name}: {} numeric cells, each named", checked - before);
    }
    assert!(
        checked > 300,
        "only {checked} numeric cells: the patcher found too few"
    );
}
