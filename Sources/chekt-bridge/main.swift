import Glibc

// Everything is in CLI; exit with its code.
let code = await CLI.main(Array(CommandLine.arguments.dropFirst()))
exit(code)
