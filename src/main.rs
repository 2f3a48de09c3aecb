fn main() -> std::process::ExitCode {
    bidtorrent::cli::main()
}
