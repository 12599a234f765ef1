from tr4ctl.cli.app import main

main()
