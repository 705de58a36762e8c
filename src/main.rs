fn main() {
    if let Err(code) = p1run::run(std::env::args_os()) {
        std::process::exit(code);
    }
}
