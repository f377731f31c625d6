use clap::Parser;

fn main() {
    let cli = walburst::cli::Cli::parse();
    std::process::exit(walburst::cli::main_with(cli));
}
