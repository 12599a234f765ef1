from tr4ctl.cli.launch import main

main()
