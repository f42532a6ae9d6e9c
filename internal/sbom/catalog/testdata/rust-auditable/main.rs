// The section cargo-auditable adds: zlib-compressed JSON of the crates
// the binary was built from, named ".dep-v0" (ELF, PE), kept by #[used].
#[used]
#[link_section = ".dep-v0"]
static AUDITABLE_VERSION_INFO: [u8; include_bytes!("dep-v0.z").len()] = *include_bytes!("dep-v0.z");

fn main() {
    println!("hello");
}
