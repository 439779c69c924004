//! `hello_wasi [ARGS...]`: prints `hello, world` and its arguments (one per
//! line, as given), then exits with the number of arguments as its status.

fn main() {
    println!("hello, world");
    let args: Vec<String> = std::env::args().skip(1).collect();
    for a in &args {
        println!("{a}");
    }
    std::process::exit(args.len() as i32);
}
