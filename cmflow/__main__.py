from cmflow.cli import main

main()
