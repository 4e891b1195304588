from aux_select.reproduce.cli import main

main()
