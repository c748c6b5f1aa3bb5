"""Course text shared by the assessment tests (real sentences, so rules have something to find)."""

PHOTOSYNTHESIS = (
    "Photosynthesis is the process by which green plants use sunlight to make glucose from carbon dioxide "
    "and water. Chlorophyll is a green pigment that absorbs light energy in the chloroplasts. The chloroplast "
    "is an organelle found in plant cells where photosynthesis takes place. Stomata are small pores on the leaf "
    "surface that let carbon dioxide enter. Respiration refers to the release of energy from glucose in every "
    "living cell. The light reactions happen in the thylakoid membranes and produce oxygen as a by-product. "
    "The Calvin cycle uses carbon dioxide to build sugars in the stroma."
)

FRACTIONS = (
    "A fraction is a number that represents part of a whole. The numerator is the top number of a fraction "
    "and counts the parts taken. The denominator is the bottom number of a fraction and tells how many equal "
    "parts make the whole. Equivalent fractions are fractions that name the same amount, such as 1/2 and 2/4. "
    "To add fractions with a common denominator, add the numerators and keep the denominator. A mixed number "
    "is a whole number written together with a proper fraction."
)
