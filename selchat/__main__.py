from selchat.cli import main

main()
