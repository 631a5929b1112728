//! `asimapd_set_password`: creates or updates an account in the password file.

fn main() {
    eprintln!("asimapd_set_password: not built yet");
    std::process::exit(1);
}
