from badgekit.cli import main

main()
