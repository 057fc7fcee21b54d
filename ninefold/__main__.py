from ninefold.cli.main import main

main()
