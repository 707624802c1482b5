"""Stage-neutral groundwork every stage uses: errors the user can act on, the stop handlers, safe file
writing and naming, names shown without secrets, text files, optional extras, running figures.
"""
