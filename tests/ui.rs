//! Compile errors are part of the interface: each mistake under `tests/ui/`
//! has a reviewed snapshot of the message a user sees, and `tests/ui/pass/`
//! must compile.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/dsl/*.rs");
    t.compile_fail("tests/ui/connector/*.rs");
    t.compile_fail("tests/ui/types/*.rs");
    t.compile_fail("tests/ui/operator/*.rs");
    t.compile_fail("tests/ui/event/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
