from dongbo.cli import main

main()
