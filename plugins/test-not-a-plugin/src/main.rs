//! Test fixture: a component of the wrong world (`wasi:cli/command`).

fn main() {
    println!("I am a command, not a Weir plugin.");
}
