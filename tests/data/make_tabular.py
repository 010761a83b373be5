"""Generate tests/data/{penguins_like,cars_like}.csv once (committed)."""
import numpy as np, pandas as pd
rng = np.random.default_rng(16)
n = 160
species = rng.choice(["Adelie", "Gentoo", "Chinstrap"], n)
base = {"Adelie": 38.8, "Gentoo": 47.5, "Chinstrap": 48.8}
bill = np.array([base[s] for s in species]) + rng.normal(0, 2.0, n)
depth = np.array([{"Adelie": 18.3, "Gentoo": 15.0, "Chinstrap": 18.4}[s] for s in species]) + rng.normal(0, 0.8, n)
mass = np.array([{"Adelie": 3700, "Gentoo": 5070, "Chinstrap": 3730}[s] for s in species]) + rng.normal(0, 300, n)
island = np.where(species == "Gentoo", "Biscoe", rng.choice(["Dream", "Torgersen", "Biscoe"], n))
sex = rng.choice(["male", "female"], n).astype(object)
date = pd.Timestamp("2007-11-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")
df = pd.DataFrame({
    "individual_id": [f"N{i}A{rng.integers(1, 3)}-{rng.integers(1000, 9999)}" for i in range(n)],  # identifier-like
    "island": island, "bill_length_mm": bill.round(1), "bill_depth_mm": depth.round(1),
    "body_mass_g": mass.round(0), "sex": sex, "date_egg": date.strftime("%Y-%m-%d"), "species": species.astype(object),
})
for col, k in [("bill_length_mm", 6), ("bill_depth_mm", 5), ("body_mass_g", 4), ("sex", 9), ("island", 3)]:
    df.loc[rng.choice(n, k, replace=False), col] = np.nan
df.loc[rng.choice(n, 4, replace=False), "species"] = np.nan  # missing targets
df.to_csv("tests/data/penguins_like.csv", index=False)

m = 150
origin = rng.choice(["USA", "Europe", "Japan"], m, p=[0.6, 0.2, 0.2])
cyl = rng.choice([4, 6, 8], m)
hp = (cyl * 18 + rng.normal(0, 12, m)).round(0)
weight = (1500 + cyl * 320 + rng.normal(0, 200, m)).round(0)
year = rng.integers(1970, 1983, m)
mpg = (48 - 0.006 * weight - 0.05 * hp + 0.5 * (year - 1970) + np.where(origin == "Japan", 2, 0) + rng.normal(0, 1.5, m)).round(1)
names = [f"{rng.choice(['ford', 'chevy', 'toyota', 'vw', 'datsun', 'amc', 'buick'])} {rng.choice(['pinto', 'nova', 'corolla', 'rabbit', 'hornet', 'skylark', 'maverick', 'civic'])} {i}" for i in range(m)]
cars = pd.DataFrame({"Name": names, "Miles_per_Gallon": mpg, "Cylinders": cyl, "Horsepower": hp,
                     "Weight_in_lbs": weight, "Year": [f"{y}-01-01" for y in year], "Origin": origin})
cars.loc[rng.choice(m, 6, replace=False), "Horsepower"] = np.nan
cars.loc[rng.choice(m, 8, replace=False), "Miles_per_Gallon"] = np.nan  # missing targets
cars.to_csv("tests/data/cars_like.csv", index=False)
# new rows: one row, an unseen category, an all-missing column
new = df.drop(columns=["species"]).head(3).copy()
new["sex"] = np.nan
new.loc[new.index[0], "island"] = "Atlantis"
new.to_csv("tests/data/penguins_like_new.csv", index=False)
